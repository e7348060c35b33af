"""Everyday use of the session panel and the dose dialogs: the session's total dose in the
window, "Reopen session" only when there is something to reopen, and the lot offered again for
the next device of a pack. Real Workstation and SQLite; the test's ManualClock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dosing_helpers import MIN, complete_predose, feed_vitals, sign_in_nurse, start_session
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QApplication,
    QMessageBox,
    QScrollArea,
    QStyle,
    QStyleOptionButton,
)
from pytestqt.qtbot import QtBot

from katmonitor.base.clock import ManualClock
from katmonitor.base.vitals import VitalKind
from katmonitor.cli import main
from katmonitor.session import SessionStatus
from katmonitor.storage.store import SessionStore
from ui import theme
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


def dosed_window(make_window: MakeWindow, clock: ManualClock, lot: str = "LOT-1") -> MainWindow:
    """A signed-in nurse's session, pre-dose steps done, one 28 mg device given."""
    window = make_window([], clock=clock, audio=False)
    ws = window.workstation
    sign_in_nurse(ws)
    start_session(window)
    complete_predose(ws)
    feed_vitals(ws)
    ws.add_dose(28.0, 1, lot)
    window.refresh()
    return window


def test_the_session_panel_shows_the_total_dose(make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = make_window([], clock=clock, audio=False)
    panel = window.session_panel
    sign_in_nurse(window.workstation)
    start_session(window)
    window.refresh()
    assert "Total" not in panel.header_text() and panel.dose_total_label.isHidden()

    ws = window.workstation
    complete_predose(ws)
    feed_vitals(ws)
    ws.add_dose(28.0, 1, "LOT-1")
    window.refresh()
    assert panel.dose_total_label.text() == "Total 28 mg: 1 × 28 mg spray device"
    assert panel.dose_total_label.isVisible()
    clock.advance(5 * MIN + 1)
    ws.add_dose(28.0, 1, "LOT-1")
    window.refresh()
    assert panel.dose_total_label.text() == "Total 56 mg: 2 × 28 mg spray devices"
    assert "Total 56 mg: 2 × 28 mg spray devices" in panel.header_text()


def test_reopen_is_offered_only_when_a_session_was_interrupted(
        make_window: MakeWindow, database: object) -> None:
    clock = ManualClock()
    first = make_window([], clock=clock, audio=False)
    panel = first.session_panel
    assert not panel.reopen_action.isEnabled(), "nothing interrupted: nothing to reopen"
    sign_in_nurse(first.workstation)
    start_session(first)
    first.refresh()
    assert not panel.reopen_action.isEnabled()
    session = first.workstation.session
    assert session is not None
    first.close()  # leaves the session interrupted
    assert SessionStore(database).get_session(session.id).status is SessionStatus.INTERRUPTED  # type: ignore[arg-type]

    second = make_window([], clock=clock, audio=False)
    assert second.session_panel.reopen_action.isEnabled()
    dialog = second.session_panel.reopen_session()
    dialog.select_session(session.id)
    dialog.accept()
    assert dialog.error() == ""
    second.refresh()
    assert not second.session_panel.reopen_action.isEnabled(), "reopened: recording again"


def test_the_next_device_is_offered_the_last_lot_of_this_session(
        make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = dosed_window(make_window, clock, lot="LOT-A7")
    dialog = window.session_panel.add_dose()
    assert dialog.lot_edit.text() == "LOT-A7", "the second device of the pack"
    dialog.lot_edit.setText("LOT-B2")  # a device from another pack
    clock.advance(5 * MIN + 1)
    dialog.accept()
    assert dialog.error() == ""
    nxt = window.session_panel.add_dose()
    assert nxt.lot_edit.text() == "LOT-B2", "the lot last given, not the first"
    nxt.reject()

    window.workstation.end_session()
    start_session(window, client="C-2001")
    fresh = window.session_panel.add_dose()
    assert fresh.lot_edit.text() == "", "a new session starts with no lot"
    fresh.reject()


def test_run_with_a_bad_device_spec_says_so_in_a_window(
        qtbot: QtBot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Started from a launcher, nobody reads the console: the error is shown in a message box
    (and still printed, with exit status 2)."""
    seen: list[tuple[str, str]] = []

    def close_the_box() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append((box.text(), box.informativeText()))
            box.button(QMessageBox.StandardButton.Ok).click()
        else:
            QTimer.singleShot(20, close_the_box)

    QTimer.singleShot(0, close_the_box)
    code = main(["run", "--device", "foo:bar", "--db", f"sqlite:///{tmp_path / 'k.sqlite3'}"])
    assert code == 2
    assert len(seen) == 1, "one message box, closed by the nurse"
    message, hint = seen[0]
    assert message == "unknown device type 'foo' in 'foo:bar'"
    assert "sim:SCENARIO" in hint, "the hint lists the device types"
    assert "foo" in capsys.readouterr().err, "also on the console"


def test_the_eligibility_checklist_counts_answers_shows_its_radios_and_holds_still(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock(), audio=False)
    sign_in_nurse(window.workstation)
    start_session(window)
    dialog = window.workflow_panel.check_eligibility()
    qtbot.waitExposed(dialog)
    items = window.workstation.workflow.plan.eligibility
    assert dialog.unanswered_label.text() == f"{len(items)} questions not answered"

    # Yes/No visible on the dark theme: the ring is much lighter than the dialog behind it.
    yes = dialog.groups[items[0].id].button(1)
    option = QStyleOptionButton()
    option.initFrom(yes)
    ring = yes.style().subElementRect(QStyle.SubElement.SE_RadioButtonIndicator, option, yes)
    image = yes.grab().toImage()
    lightest = max(QColor(image.pixel(x, y)).lightness()
                   for x in range(ring.left(), ring.right() + 1)
                   for y in range(ring.top(), ring.bottom() + 1))
    background = QColor(theme.BACKGROUND).lightness()
    # Fusion's own ring on this palette peaks at lightness ~21: invisible in a dim room.
    assert lightest - background > 80, "the radio ring stands out from the background"

    size = dialog.size()
    scroll = dialog.findChild(QScrollArea)
    assert scroll is not None
    position = scroll.verticalScrollBar().value()
    for answered, item in enumerate(items, 1):
        dialog.answer(item.id, not item.acceptable if answered == 1 else item.acceptable)
        QApplication.processEvents()
        left = len(items) - answered
        assert dialog.unanswered_label.text() == (
            "All questions answered" if left == 0 else
            f"{left} question{'s' if left != 1 else ''} not answered")
        assert dialog.size() == size, "the dialog does not jump while answering"
    assert not dialog.reason_edit.isHidden(), "the concern asks for a reason"
    assert dialog.size() == size
    assert scroll.verticalScrollBar().value() == position
    dialog.reject()


def label_layout_is_clean(window: MainWindow) -> list[str]:
    """Every plot's marker labels, after a real paint; asserts none overlaps another, the
    plot's title or the data band."""
    window.trends.graphics.grab()  # paints every overlay
    shown: list[str] = []
    for name, overlay in window.trends.overlays.items():
        rects = overlay.label_rects
        for i, (label, rect) in enumerate(rects):
            assert not rect.intersects(overlay.title_rect), (name, label, "over the title")
            assert rect.bottom() <= overlay.data_top_px + 0.5, (name, label, "over the data")
            for other, other_rect in rects[i + 1:]:
                assert not rect.intersects(other_rect), (name, label, other)
        shown += [f"{name}:{label}" for label, _ in rects]
    return shown


def test_trend_markers_never_overlap_and_the_end_is_marked(make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = dosed_window(make_window, clock)  # "Start" and the first dose seconds apart
    ws = window.workstation
    for minute in range(1, 12):
        clock.advance(MIN)
        feed_vitals(ws, hr=70 + minute, spo2=97)
        if minute == 1:
            ws.add_observation("calm", "RN Lee")
        if minute == 6:
            ws.add_dose(28.0, 1, "LOT-1")
    window.refresh()
    window.trends.refresh(clock.now(), force=True)
    shown = label_layout_is_clean(window)
    assert "hr:Start" in shown and "hr:Dose 28 mg ×1" in shown

    clock.advance(MIN)
    ws.end_session()
    ended = ws.session.ended_at if ws.session is not None else None
    assert ended is not None
    for _ in range(5):  # the monitor stays on after the session
        clock.advance(MIN)
        feed_vitals(ws, hr=90)
    window.trends.set_range("session")
    window.refresh()
    window.trends.refresh(clock.now(), force=True)
    assert ("hr", "End", ended) in window.trends.marker_lines()
    times, _ = window.trends.curves[VitalKind.HR].getData()
    assert times is not None and len(times) and float(max(times)) <= ended, \
        "the whole-session trend stops at the session's end"
    assert window.trends.view_x_range()[1] < ended + 5 * MIN
    label_layout_is_clean(window)
