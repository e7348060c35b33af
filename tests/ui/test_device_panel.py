"""The Devices… dialog on a real Workstation (temporary SQLite database, simulated monitor),
offscreen. Settings are written to the temporary KATMONITOR_CONFIG_DIR (tests/ui/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from serial.tools import list_ports

from devices.connection_check import ConnectionReport, check_connection
from devices.registry import open_device, parse_spec
from devices.virtual_time import VirtualTime
from katmonitor.session import Route
from katmonitor.settings import load_settings, settings_path
from katmonitor.storage.database import Database
from katmonitor.workstation import Workstation
from ui import device_panel
from ui.device_panel import DeviceSettingsDialog
from ui.main_window import MainWindow

FAST_SIM = "sim:normal?nibp_interval=5"  # as in conftest.py


@pytest.fixture
def workstation(database: Database) -> Iterator[Workstation]:
    station = Workstation(database, [open_device(FAST_SIM)])
    station.start()
    yield station
    station.shutdown()


@pytest.fixture
def open_dialog(qtbot: QtBot, workstation: Workstation) -> Callable[[], DeviceSettingsDialog]:
    def make() -> DeviceSettingsDialog:
        dialog = DeviceSettingsDialog(workstation)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    return make


def visible(dialog: DeviceSettingsDialog, widget: object) -> bool:
    return widget.isVisibleTo(dialog)  # type: ignore[attr-defined]


def add_to_list(dialog: DeviceSettingsDialog, kind: str, port: str = "") -> None:
    dialog.set_kind(kind)
    if port:
        dialog.port_combo.setCurrentText(port)
    dialog.add_button.click()
    assert dialog.error() == ""


def test_the_form_builds_the_device_spec(
    open_dialog: Callable[[], DeviceSettingsDialog], monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = [SimpleNamespace(device="/dev/ttyUSB0", description="FT232R USB UART")]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    dialog = open_dialog()

    dialog.set_kind("ge-dri")
    assert visible(dialog, dialog.port_combo) and visible(dialog, dialog.baud_combo)
    assert not visible(dialog, dialog.listen_edit) and not visible(dialog, dialog.scenario_combo)
    dialog.refresh_button.click()
    assert dialog.port_combo.itemText(0) == "/dev/ttyUSB0 — FT232R USB UART"
    dialog.port_combo.setCurrentIndex(0)
    assert dialog.spec_preview.text() == "ge-dri:/dev/ttyUSB0"
    dialog.port_combo.setCurrentText("/dev/pts/3")  # typed: not in the list
    dialog.baud_combo.setCurrentText("115200")
    dialog.primary_spo2.setChecked(True)
    assert dialog.spec_preview.text() == "ge-dri:/dev/pts/3?baud=115200&primary=spo2"

    dialog.set_kind("masimo")
    assert not visible(dialog, dialog.baud_combo)
    dialog.primary_pulse.setChecked(True)
    assert dialog.spec_preview.text() == "masimo:/dev/pts/3?primary=spo2,pulse_rate"

    dialog.primary_spo2.setChecked(False)
    dialog.primary_pulse.setChecked(False)
    dialog.set_kind("hl7")
    assert visible(dialog, dialog.listen_edit) and not visible(dialog, dialog.port_combo)
    assert dialog.spec_preview.text() == "hl7:0.0.0.0:2575"

    dialog.set_kind("sim")
    dialog.scenario_combo.setCurrentText("desaturation")
    dialog.protocol_combo.setCurrentIndex(dialog.protocol_combo.findData("masimo"))
    assert dialog.spec_preview.text() == "sim:desaturation?protocol=masimo"


def test_the_list_shows_each_devices_live_status_and_can_be_reordered(
    qtbot: QtBot, open_dialog: Callable[[], DeviceSettingsDialog]
) -> None:
    dialog = open_dialog()
    assert dialog.specs() == [FAST_SIM]  # nothing saved yet: the devices in use
    qtbot.waitUntil(lambda: "—   connected" in dialog.status_lines()[0], timeout=8_000)

    add_to_list(dialog, "ge-dri", "/dev/ttyUSB0")
    add_to_list(dialog, "masimo", "/dev/ttyUSB1")
    assert dialog.specs() == [FAST_SIM, "ge-dri:/dev/ttyUSB0", "masimo:/dev/ttyUSB1"]
    assert "not in use yet" in dialog.status_lines()[1]

    assert dialog.device_list.currentRow() == 2
    dialog.up_button.click()
    assert dialog.specs() == [FAST_SIM, "masimo:/dev/ttyUSB1", "ge-dri:/dev/ttyUSB0"]
    dialog.device_list.setCurrentRow(0)
    assert not dialog.up_button.isEnabled()
    dialog.remove_button.click()
    assert dialog.specs() == ["masimo:/dev/ttyUSB1", "ge-dri:/dev/ttyUSB0"]

    # A spec the registry refuses is not added; the reason is shown.
    dialog.set_kind("ge-dri")
    dialog.port_combo.setCurrentText("")
    dialog.add_button.click()
    assert "names no serial port" in dialog.error()
    assert len(dialog.specs()) == 2


def on_a_manual_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialog's Test connection runs simulated devices on a manual clock: a GE monitor's
    5-second cycle passes in milliseconds, however busy the machine (devices/virtual_time.py)."""
    virtual = VirtualTime()

    def check(spec: str, seconds: float, **options: Any) -> ConnectionReport:
        if parse_spec(spec).kind == "sim":
            options |= {"timer": virtual.now, "sleep": virtual.sleep, "opener": virtual.open}
        return check_connection(spec, seconds, **options)

    monkeypatch.setattr(device_panel, "check_connection", check)


def test_test_connection_runs_in_the_background_and_shows_what_arrives(
    qtbot: QtBot,
    open_dialog: Callable[[], DeviceSettingsDialog],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_a_manual_clock(monkeypatch)
    dialog = open_dialog()
    dialog.set_kind("sim")
    dialog.scenario_combo.setCurrentText("hypertensive")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    # The click returned at once: the window is not blocked while the device is tried.
    assert dialog.test_summary().startswith("Testing sim:hypertensive")
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: "Receiving:" in dialog.test_summary(), timeout=15_000)
    assert "HR" in dialog.test_summary()
    assert dialog.test_button.isEnabled()

    dialog.set_kind("ge-dri")
    dialog.port_combo.setCurrentText("/dev/ttyKATMISSING")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "does not exist" in dialog.test_summary(), timeout=5_000)


def test_save_and_apply_saves_the_settings_and_switches_the_workstation(
    qtbot: QtBot, open_dialog: Callable[[], DeviceSettingsDialog], workstation: Workstation
) -> None:
    dialog = open_dialog()
    dialog.remove_button.click()
    dialog.set_kind("sim")
    dialog.scenario_combo.setCurrentText("desaturation")
    dialog.primary_spo2.setChecked(True)
    add_to_list(dialog, "sim")
    new_spec = "sim:desaturation?primary=spo2"
    assert dialog.specs() == [new_spec]

    dialog.save_button.click()
    assert dialog.error() == ""
    path = settings_path()
    assert json.loads(path.read_text()) == {"version": 1, "devices": [new_spec]}
    assert load_settings().devices == [new_spec]
    assert [d.spec for d in workstation.devices] == [new_spec]
    assert "Saved to" in dialog.message_label.text()
    qtbot.waitUntil(lambda: "—   connected" in dialog.status_lines()[0], timeout=8_000)


def test_switching_a_recording_training_session_to_real_devices_is_refused(
    open_dialog: Callable[[], DeviceSettingsDialog], workstation: Workstation
) -> None:
    workstation.start_session("C-9", "esketamine", Route.INTRANASAL)
    dialog = open_dialog()
    dialog.remove_button.click()
    add_to_list(dialog, "masimo", "/dev/ttyKATMISSING")

    dialog.save_button.click()
    assert "training session" in dialog.error() and "real" in dialog.error()
    assert "never mixed" in dialog.error()
    assert [d.spec for d in workstation.devices] == [FAST_SIM]  # nothing changed
    assert not settings_path().exists()  # and nothing saved
    assert dialog.isVisible()


def test_ctrl_shift_d_opens_the_dialog_and_the_banner_follows_the_devices(
    qtbot: QtBot, make_window: Callable[..., MainWindow]
) -> None:
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2_000)
    assert window.training_banner.isVisible()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, Qt.Key.Key_D, modifiers)
    dialog = window.findChild(DeviceSettingsDialog)
    assert dialog is not None and dialog.isVisible()

    dialog.remove_button.click()
    add_to_list(dialog, "masimo", "/dev/ttyKATMISSING")
    dialog.save_button.click()
    assert dialog.error() == ""
    assert not window.workstation.training
    assert not window.training_banner.isVisible()  # no longer a training set-up
    qtbot.waitUntil(lambda: "does not exist" in dialog.status_lines()[0], timeout=5_000)
    dialog.reject()
    assert not dialog.isVisible()
