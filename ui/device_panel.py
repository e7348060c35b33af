"""The "Devices…" dialog: which monitors this workstation reads, and how each is doing.

A biomed engineer or nurse lists the devices (in order), sees each one's live status, builds a
new device spec with a form (type, serial port or listen address, options) and tries it with
"Test connection" before "Save & apply". The dialog only assembles spec strings and shows what
the core says: the spec is validated by the device registry, the test is
:func:`devices.connection_check.check_connection` (run on a worker thread so the window never
freezes), saving is :func:`katmonitor.settings.save_settings`, and whether a switch is allowed
(e.g. never from simulated to real devices while a session records) is the workstation's call.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from urllib.parse import quote

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from serial.tools import list_ports

from devices.connection_check import ConnectionReport, check_connection, same_resource
from devices.protocols import PROTOCOLS
from devices.registry import DESCRIPTIONS, available_kinds, open_device
from devices.simulated import SCENARIOS
from katmonitor.base.errors import KatMonitorError
from katmonitor.base.samples import ConnectionState, DeviceStatus
from katmonitor.base.vitals import VitalKind
from katmonitor.config import DEFAULT_DEVICE
from katmonitor.settings import WorkstationSettings, load_settings, save_settings
from katmonitor.workstation import Workstation
from ui import theme
from ui.dialogs import error_text

TEST_SECONDS = 10.0  # the test returns as soon as data arrive; GE monitors send every 5 s
STATUS_REFRESH_MS = 500
DEFAULT_HL7_ADDRESS = "0.0.0.0:2575"
GE_BAUD_RATES = ("19200", "115200")  # 19200 is the protocol's default: no option needed
STATE_TEXT = {
    ConnectionState.CONNECTING: "connecting",
    ConnectionState.CONNECTED: "connected",
    ConnectionState.NO_DATA: "no data",
    ConnectionState.DISCONNECTED: "disconnected",
    ConnectionState.STOPPED: "stopped",
}


def format_spec(kind: str, address: str, options: dict[str, str]) -> str:
    """``KIND:ADDRESS[?k=v&...]``, the inverse of devices.registry.parse_spec."""
    query = "&".join(f"{key}={quote(value, safe=',/:')}" for key, value in options.items())
    return f"{kind}:{address}" + (f"?{query}" if query else "")


def status_text(status: DeviceStatus | None) -> str:
    if status is None:
        return "starting…"
    text = STATE_TEXT.get(status.state, str(status.state))
    return f"{text} — {status.message}" if status.message else text


class _TestResults(QObject):
    """Carries a finished test from the worker thread to the UI thread (queued signal)."""

    finished = Signal(str, object)  # spec, ConnectionReport


class DeviceSettingsDialog(QDialog):
    applied = Signal()
    """Emitted after the workstation switched to the saved devices."""

    def __init__(
        self,
        workstation: Workstation,
        *,
        settings_path: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workstation = workstation
        self.settings_path = settings_path
        self.setWindowTitle("Devices")
        self.setMinimumWidth(760)
        self._test_thread: threading.Thread | None = None
        self._test_stop = threading.Event()
        self._results = _TestResults(self)
        self._results.finished.connect(
            self._show_test_result, Qt.ConnectionType.QueuedConnection
        )

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {theme.ALARM}; font-weight: bold;")
        self.error_label.hide()
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_list())
        layout.addWidget(self._build_form())
        layout.addWidget(self.error_label)
        layout.addWidget(self.message_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = QPushButton("&Save && apply")
        self.save_button.setToolTip("Save these devices for this workstation and use them now")
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ApplyRole)
        self.save_button.clicked.connect(self.save_and_apply)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        # Enter in a field must not press Remove (or any other button) behind the user's back.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)

        self._load_initial_devices()
        self.refresh_ports()
        self._kind_changed()
        self.refresh_statuses()
        self.timer = QTimer(self)
        self.timer.setInterval(STATUS_REFRESH_MS)
        self.timer.timeout.connect(self.refresh_statuses)
        self.timer.start()

    # -- building ------------------------------------------------------------------------------

    def _build_list(self) -> QGroupBox:
        box = QGroupBox("Devices on this workstation (in order)")
        self.device_list = QListWidget()
        self.device_list.setMinimumHeight(120)
        self.device_list.currentRowChanged.connect(lambda _row: self._update_list_buttons())
        self.empty_note = QLabel(
            f"No devices listed: the simulated monitor ({DEFAULT_DEVICE}, training) is used."
        )
        self.empty_note.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.remove_button = QPushButton("&Remove")
        self.up_button = QPushButton("Move &up")
        self.down_button = QPushButton("Move &down")
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        side = QVBoxLayout()
        for button in (self.remove_button, self.up_button, self.down_button):
            side.addWidget(button)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.device_list, 1)
        row.addLayout(side)
        column = QVBoxLayout(box)
        column.addLayout(row)
        column.addWidget(self.empty_note)
        return box

    def _build_form(self) -> QGroupBox:
        box = QGroupBox("Add a device")
        self.form = QFormLayout()
        self.kind_combo = QComboBox()
        for kind in available_kinds():
            # "ge-dri:PORT[?baud=115200]  GE Datex-Ohmeda S/5..." -> the part after the syntax
            title = DESCRIPTIONS.get(kind, kind).split("  ", 1)[-1]
            self.kind_combo.addItem(f"{title}  ({kind})", kind)
        self.port_combo = QComboBox()
        self.port_combo.setEditable(True)  # a port the list does not show (e.g. /dev/pts/3)
        self.port_combo.setMinimumContentsLength(28)
        self.refresh_button = QPushButton("Refres&h")
        self.refresh_button.setToolTip("List the serial ports again (after plugging in a cable)")
        self.refresh_button.clicked.connect(self.refresh_ports)
        port_row = QWidget()
        port_layout = QHBoxLayout(port_row)
        port_layout.setContentsMargins(0, 0, 0, 0)
        port_layout.addWidget(self.port_combo, 1)
        port_layout.addWidget(self.refresh_button)
        self.listen_edit = QLineEdit(DEFAULT_HL7_ADDRESS)
        self.listen_edit.setToolTip("HOST:PORT to accept HL7 gateways on (0.0.0.0: every network)")
        self.scenario_combo = QComboBox()
        self.scenario_combo.addItems(SCENARIOS)
        self.protocol_combo = QComboBox()
        self.protocol_combo.addItem("(default)", "")
        for name in sorted(PROTOCOLS):
            self.protocol_combo.addItem(name, name)
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("raw capture file")
        self.baud_combo = QComboBox()
        self.baud_combo.addItems(GE_BAUD_RATES)
        self.primary_spo2 = QCheckBox("SpO&2")
        self.primary_pulse = QCheckBox("Puls&e rate")
        primary_row = QWidget()
        primary_layout = QHBoxLayout(primary_row)
        primary_layout.setContentsMargins(0, 0, 0, 0)
        primary_layout.addWidget(self.primary_spo2)
        primary_layout.addWidget(self.primary_pulse)
        primary_layout.addStretch(1)
        primary_row.setToolTip(
            "Show this device's values when another device reports the same parameter"
        )
        self.spec_preview = QLineEdit()
        self.spec_preview.setReadOnly(True)
        self.form.addRow("T&ype:", self.kind_combo)
        self.form.addRow("Serial &port:", port_row)
        self.form.addRow("&Listen on:", self.listen_edit)
        self.form.addRow("Sce&nario:", self.scenario_combo)
        self.form.addRow("&File:", self.file_edit)
        self.form.addRow("Pr&otocol:", self.protocol_combo)
        self.form.addRow("&Baud rate:", self.baud_combo)
        self.form.addRow("Primary for:", primary_row)
        self.form.addRow("Spe&c:", self.spec_preview)
        self._port_row = port_row
        self._primary_row = primary_row

        self.add_button = QPushButton("&Add to list")
        self.add_button.clicked.connect(self.add_from_form)
        self.test_button = QPushButton("&Test connection")
        self.test_button.setToolTip(
            f"Open this device for up to {TEST_SECONDS:g} s and show what arrives"
        )
        self.test_button.clicked.connect(self.test_connection)
        self.test_label = QLabel()
        self.test_label.setWordWrap(True)
        self.test_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        actions.addWidget(self.add_button)
        actions.addWidget(self.test_button)
        actions.addStretch(1)

        column = QVBoxLayout(box)
        column.addLayout(self.form)
        column.addLayout(actions)
        column.addWidget(self.test_label)

        self.kind_combo.currentIndexChanged.connect(lambda _i: self._kind_changed())
        self.port_combo.currentTextChanged.connect(lambda _t: self._update_preview())
        for edit in (self.listen_edit, self.file_edit):
            edit.textChanged.connect(lambda _t: self._update_preview())
        for combo in (self.scenario_combo, self.protocol_combo, self.baud_combo):
            combo.currentIndexChanged.connect(lambda _i: self._update_preview())
        for check in (self.primary_spo2, self.primary_pulse):
            check.toggled.connect(lambda _on: self._update_preview())
        return box

    def _load_initial_devices(self) -> None:
        """The saved devices; if none are saved, the ones running now."""
        try:
            saved = load_settings(self.settings_path).devices
        except KatMonitorError as error:
            self._show_error(error)
            saved = []
        for spec in saved or [device.spec for device in self.workstation.devices]:
            self._append(spec)
        if self.device_list.count():
            self.device_list.setCurrentRow(0)
        self._update_list_buttons()

    # -- the form ------------------------------------------------------------------------------

    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def set_kind(self, kind: str) -> None:
        index = self.kind_combo.findData(kind)
        if index < 0:
            raise ValueError(f"no device type {kind!r}")
        self.kind_combo.setCurrentIndex(index)

    def port(self) -> str:
        """The chosen port's device path (a listed port) or whatever was typed."""
        text = self.port_combo.currentText().strip()
        index = self.port_combo.findText(text)
        return str(self.port_combo.itemData(index)) if index >= 0 else text

    def form_spec(self) -> str:
        kind = self.kind()
        options: dict[str, str] = {}
        if kind == "sim":
            address = self.scenario_combo.currentText()
            if self.protocol_combo.currentData():
                options["protocol"] = str(self.protocol_combo.currentData())
        elif kind == "hl7":
            address = self.listen_edit.text().strip()
        elif kind == "replay":
            address = self.file_edit.text().strip()
            if self.protocol_combo.currentData():
                options["protocol"] = str(self.protocol_combo.currentData())
        else:
            address = self.port()
            if kind == "ge-dri" and self.baud_combo.currentText() != GE_BAUD_RATES[0]:
                options["baud"] = self.baud_combo.currentText()
        primary = [
            str(vital)
            for vital, check in ((VitalKind.SPO2, self.primary_spo2),
                                 (VitalKind.PULSE_RATE, self.primary_pulse))
            if check.isChecked()
        ]
        if primary:
            options["primary"] = ",".join(primary)
        return format_spec(kind, address, options)

    def refresh_ports(self) -> None:
        typed = self.port_combo.currentText()
        self.port_combo.blockSignals(True)
        self.port_combo.clear()
        for port in sorted(list_ports.comports(), key=lambda p: p.device):
            self.port_combo.addItem(f"{port.device} — {port.description}", port.device)
        self.port_combo.setCurrentText(typed)  # keep what was chosen or typed
        self.port_combo.blockSignals(False)
        self._update_preview()

    def _kind_changed(self) -> None:
        kind = self.kind()
        serial = kind in PROTOCOLS and PROTOCOLS[kind].transport == "serial"
        self.form.setRowVisible(self._port_row, serial)
        self.form.setRowVisible(self.listen_edit, kind == "hl7")
        self.form.setRowVisible(self.scenario_combo, kind == "sim")
        self.form.setRowVisible(self.file_edit, kind == "replay")
        self.form.setRowVisible(self.protocol_combo, kind in ("sim", "replay"))
        self.form.setRowVisible(self.baud_combo, kind == "ge-dri")
        self._update_preview()

    def _update_preview(self) -> None:
        self.spec_preview.setText(self.form_spec())

    # -- the list ------------------------------------------------------------------------------

    def specs(self) -> list[str]:
        return [self._spec_at(row) for row in range(self.device_list.count())]

    def _spec_at(self, row: int) -> str:
        return str(self.device_list.item(row).data(Qt.ItemDataRole.UserRole))

    def _append(self, spec: str) -> None:
        item = QListWidgetItem(spec)
        item.setData(Qt.ItemDataRole.UserRole, spec)
        self.device_list.addItem(item)

    def add_from_form(self) -> None:
        spec = self.form_spec()
        try:
            open_device(spec)  # the registry checks the spec; nothing is started
        except KatMonitorError as error:
            self._show_error(error)
            return
        self._clear_error()
        self._append(spec)
        self.device_list.setCurrentRow(self.device_list.count() - 1)
        self.refresh_statuses()
        self._update_list_buttons()

    def remove_selected(self) -> None:
        row = self.device_list.currentRow()
        if row >= 0:
            self.device_list.takeItem(row)
        self._update_list_buttons()

    def move_selected(self, step: int) -> None:
        row = self.device_list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.device_list.count():
            return
        item = self.device_list.takeItem(row)
        self.device_list.insertItem(target, item)
        self.device_list.setCurrentRow(target)

    def _update_list_buttons(self) -> None:
        row, count = self.device_list.currentRow(), self.device_list.count()
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < count - 1)
        self.empty_note.setVisible(count == 0)

    def refresh_statuses(self) -> None:
        """Each listed device with its live status (or that it is not in use yet)."""
        running = {device.spec: device.source for device in self.workstation.devices}
        statuses = {status.source: status for status in self.workstation.device_statuses()}
        for row in range(self.device_list.count()):
            item = self.device_list.item(row)
            spec = self._spec_at(row)
            status = statuses.get(running[spec]) if spec in running else None
            if spec not in running:
                text, colour = "not in use yet (Save & apply)", theme.TEXT_DIM
            elif status is None:
                text, colour = status_text(None), theme.TEXT_DIM
            else:
                healthy = status.state is ConnectionState.CONNECTED and not status.conditions
                text, colour = status_text(status), theme.TEXT if healthy else theme.ALARM
            shown = f"{spec}   —   {text}"
            if item.text() != shown:
                item.setText(shown)
                item.setToolTip(shown)
                item.setForeground(theme.colour(colour))

    def status_lines(self) -> list[str]:
        """Every line of the device list as shown (for tests)."""
        return [self.device_list.item(row).text() for row in range(self.device_list.count())]

    # -- test connection -----------------------------------------------------------------------

    @property
    def testing(self) -> bool:
        return self._test_thread is not None and self._test_thread.is_alive()

    def test_connection(self) -> None:
        """Try the form's device on a worker thread; the summary appears when it is done."""
        if self.testing:
            return
        spec = self.form_spec()
        for device in self.workstation.devices:
            try:
                busy = same_resource(spec, device.spec)
            except KatMonitorError:
                busy = False  # a malformed spec: the test itself says what is wrong
            if busy:
                self._show_test_text(
                    f"{device.spec} is in use by this workstation: its live status is shown in "
                    "the list above.",
                    ok=None,
                )
                return
        self._test_stop.clear()
        self.test_button.setEnabled(False)
        self._show_test_text(f"Testing {spec} (up to {TEST_SECONDS:g} s)…", ok=None)
        self._test_thread = threading.Thread(
            target=self._run_test, args=(spec,), name="device-test", daemon=True
        )
        self._test_thread.start()

    def _run_test(self, spec: str) -> None:
        """Worker thread: never touches widgets, only emits the result."""
        try:
            report = check_connection(spec, TEST_SECONDS, stop=self._test_stop.is_set)
        except KatMonitorError as error:
            report = ConnectionReport(False, str(error))
        except Exception as error:  # shown to the engineer rather than lost with the thread
            report = ConnectionReport(False, f"the test failed: {error}")
        if not self._test_stop.is_set():
            # RuntimeError: the dialog went away with its window meanwhile; nobody to tell.
            with contextlib.suppress(RuntimeError):
                self._results.finished.emit(spec, report)

    def _show_test_result(self, spec: str, report: ConnectionReport) -> None:
        self.test_button.setEnabled(True)
        self._show_test_text(f"{spec}: {report.summary}", ok=report.ok)

    def _show_test_text(self, text: str, *, ok: bool | None) -> None:
        colour = theme.TEXT if ok is None else theme.HR if ok else theme.ALARM
        self.test_label.setStyleSheet(f"color: {colour};")
        self.test_label.setText(text)

    def test_summary(self) -> str:
        return self.test_label.text()

    # -- save & apply --------------------------------------------------------------------------

    def save_and_apply(self) -> None:
        """Switch the workstation to the listed devices, then save them for next time. If the
        workstation refuses, nothing changes and nothing is saved."""
        settings = WorkstationSettings(devices=self.specs())
        wanted = settings.effective_devices()
        try:
            if wanted != [device.spec for device in self.workstation.devices]:
                self.workstation.replace_devices(wanted)
        except KatMonitorError as error:
            self._show_error(error)
            return
        self.applied.emit()
        try:
            path = save_settings(settings, self.settings_path)
        except KatMonitorError as error:
            self._show_error(error, prefix="In use now, but not saved for next time: ")
            return
        self._clear_error()
        self.message_label.setText(f"Saved to {path} and in use now.")
        self.refresh_statuses()

    def error(self) -> str:
        """The refusal shown, or "" (for tests)."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def _show_error(self, error: KatMonitorError, prefix: str = "") -> None:
        self.error_label.setText(prefix + error_text(error))
        self.error_label.show()
        self.message_label.clear()

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()

    # -- closing -------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self.timer.stop()
        self._test_stop.set()  # a running test stops within ~0.1 s and releases its port
        if self._test_thread is not None:
            self._test_thread.join(5.0)
            self._test_thread = None
        super().done(result)
