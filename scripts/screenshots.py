"""Drive the dosing-room window through a normal training session and save screenshots.

Run by ``scripts/screenshots`` under Xvfb (1600x900, the real xcb platform). The simulated GE
monitor runs on a manual clock (devices/virtual_time.py): 45 minutes of session take seconds,
with no sleeping. A throwaway SQLite database; nothing touches the user's data.
"""

from __future__ import annotations

import io
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtWidgets import QApplication

from devices.virtual_time import VirtualTime
from katmonitor.accounts import AccountStore
from katmonitor.assessments import make_assessment
from katmonitor.base.errors import KatMonitorError
from katmonitor.session import Route
from katmonitor.storage.database import open_database
from katmonitor.workstation import Workstation
from ui.main_window import MainWindow
from ui.theme import apply_theme

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
MIN = 60.0


def main() -> int:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    OUT.mkdir(parents=True, exist_ok=True)
    start = datetime.now().replace(hour=9, minute=0, second=0, microsecond=0).timestamp()
    virtual = VirtualTime(start=start, step_s=0.5)
    device = virtual.open("sim:normal?nibp_interval=300")
    with tempfile.TemporaryDirectory() as tmp:
        database = open_database(f"sqlite:///{tmp}/screenshots.sqlite3")
        accounts = AccountStore(database)
        accounts.add_user("admin", "administrator", "admin-pass-1", "Administrator")
        accounts.add_user("rn.lee", "nurse", "dosing-room-7", "Lee Park, RN",
                          admin="admin", admin_password="admin-pass-1")
        ws = Workstation(database, [device], clock=virtual.clock)
        window = MainWindow(ws, confirm_close=False, audio=False)
        window.resize(1600, 900)
        window.show()
        ws.start()

        def run(seconds: float) -> None:
            """Device time passes; the window draws a frame every 5 s of it."""
            for _ in range(max(1, round(seconds / 5))):
                virtual.sleep(5)
                window.refresh()
                app.processEvents()

        def shot(name: str) -> None:
            window.refresh()
            for _ in range(5):
                app.processEvents()
            screen = app.primaryScreen()
            pixmap = screen.grabWindow(0) if screen is not None else window.grab()
            raw = QBuffer()
            raw.open(QIODevice.OpenModeFlag.WriteOnly)
            pixmap.save(raw, "PNG")
            # 256 colours chosen from the picture (Pillow comes with fpdf2): the dark, flat
            # window loses nothing visible and the PNG is about 4 times smaller.
            picture = Image.open(io.BytesIO(raw.data().data())).convert("RGB")
            picture.quantize(colors=256, dither=Image.Dither.NONE).save(
                OUT / f"{name}.png", optimize=True)
            print(f"saved {OUT / name}.png")

        try:
            run(8 * MIN)  # the pre-dose baseline
            ws.sign_in("rn.lee", "dosing-room-7")
            ws.start_session("C-1042", "Esketamine", Route.INTRANASAL)
            eligibility = window.workflow_panel.check_eligibility()
            for item in ws.workflow.plan.eligibility[:-3]:
                eligibility.answer(item.id, item.acceptable)
            shot("eligibility")
            for item in ws.workflow.plan.eligibility:
                eligibility.answer(item.id, item.acceptable)
            eligibility.accept()
            ws.workflow.record_identity_check("Name and date of birth checked against photo ID")
            run(MIN)
            ws.add_dose(28.0, 1, "LOT-A1", "Lee Park, RN",
                        override_reason="" if ws.workflow.gate().passed else "screenshots")
            run(5 * MIN + 5)
            dose = window.session_panel.add_dose()  # the pack's lot is offered again
            dose.accept()
            run(15 * MIN)
            ws.add_observation("Relaxed, eyes closed; responds to voice.", "Lee Park, RN",
                               assessment=make_assessment(moaas=4))
            run(25 * MIN)
            shot("session")
            window.trends.set_range("session")
            run(5)
            shot("whole-session")
        except KatMonitorError as error:
            print(f"screenshots: {error.message} {error.hint}", file=sys.stderr)
            return 1
        finally:
            window.close()
            ws.shutdown()
            database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
