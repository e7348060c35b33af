"""The dosing-room window: trends over the pleth in the centre, numerics on the right.

One QTimer drives every refresh (the pyqtgraph advice: one timer, reuse curves, never redraw
per sample). Each tick copies what it needs from the workstation's live buffers; widgets only
repaint what changed, trends redraw at most about once a second, the pleth every tick.
Everything shown is read through the workstation's public API; the rules (stale, limits)
are the core's. What changes between frames - alarm events, device status, a recorder problem,
the session's state - reaches the window through ``CoreEvents``, the adapter of the core's
event hub: an alarm event updates the alarm bar at once, without waiting for the next frame.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from katmonitor.alarms.model import ActiveAlarm
from katmonitor.base.samples import ConnectionState, DeviceStatus
from katmonitor.base.vitals import VitalKind
from katmonitor.limits import LimitFlag
from katmonitor.workstation import Workstation
from ui import theme
from ui.addendum_dialog import AddendumControls, AddendumDialog
from ui.alarm_audio import VOLUME_FLOOR, AlarmAudio
from ui.alarm_bar import AlarmBar
from ui.alarm_history import AlarmHistoryDialog
from ui.alarm_limits import AlarmLimitsDialog
from ui.core_events import CoreEvents
from ui.device_panel import STATE_TEXT, DeviceSettingsDialog
from ui.elided_label import ElidedLabel
from ui.limits_panel import OutOfLimitsList
from ui.lock_screen import LockControls
from ui.numeric_tile import NibpTile, NumericTile, annunciate_tiles
from ui.pleth_view import PlethView
from ui.review_entry import ReviewControls
from ui.session_panel import SessionPanel
from ui.sign_in import AccountControls
from ui.signing_dialogs import RecordControls, SignSessionDialog
from ui.trend_plots import RANGES, TrendPlots
from ui.workflow_panel import WorkflowPanel

TIMER_INTERVAL_MS = 40  # 25 frames a second: a smooth pleth sweep
TRENDS_MIN_WIDTH_PX = 300
TRAINING_TEXT = "TRAINING — SIMULATED MONITOR — NOT CLINICAL DATA"


def operator_name() -> str:
    """Who acknowledges and pauses (no accounts yet): the OS user, else "nurse"."""
    try:
        return getpass.getuser() or "nurse"
    except (KeyError, OSError):
        return "nurse"


def device_has_problem(status: DeviceStatus) -> bool:
    """A technical condition the nurse must see: lost link, no data, sensor off, bad frames."""
    return status.state is not ConnectionState.CONNECTED or bool(status.conditions)


def device_status_text(status: DeviceStatus) -> str:
    text = f"{status.source}: {STATE_TEXT.get(status.state, str(status.state))}"
    if device_has_problem(status) and status.message:
        text = f"⚠ {text} ({status.message})"
    return text


class MainWindow(QMainWindow):
    def __init__(self, workstation: Workstation, *, confirm_close: bool | None = None,
                 audio: bool = True, flash_clock: Callable[[], float] = time.monotonic) -> None:
        """``audio``: False builds no sound output (tests of the visual side only);
        ``flash_clock``: the UI time the flash phase is derived from."""
        super().__init__()
        self.workstation = workstation
        self.user = operator_name()
        self.flash_clock = flash_clock
        # Ask before closing over a running session - but never in tests or on SIGTERM.
        self.confirm_close = (os.environ.get("KATMONITOR_NO_CONFIRM") is None
                              if confirm_close is None else confirm_close)
        self._closing = False
        self._status_key: tuple[object, ...] = ()
        self.setWindowTitle("KAT Monitor")
        self.resize(1600, 900)

        self.training_banner = QLabel(TRAINING_TEXT)
        self.training_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.training_banner.setFont(theme.font(theme.TILE_DETAIL_PX, bold=True))
        self.training_banner.setStyleSheet(
            f"background: {theme.TRAINING_BANNER}; color: {theme.TRAINING_TEXT}; padding: 3px;"
        )
        self.training_banner.setVisible(workstation.training)

        self.session_panel = SessionPanel(workstation, on_change=self.refresh)
        self.workflow_panel = WorkflowPanel(workstation, self.session_panel)
        self.trends = TrendPlots(workstation)
        self.pleth = PlethView(workstation)
        self.tiles: dict[VitalKind, NumericTile] = {
            VitalKind.HR: NumericTile(VitalKind.HR, theme.BIG_NUMERIC_PX),
            VitalKind.SPO2: NumericTile(VitalKind.SPO2, theme.BIG_NUMERIC_PX),
            VitalKind.PULSE_RATE: NumericTile(VitalKind.PULSE_RATE, theme.BIG_NUMERIC_PX),
            VitalKind.PERFUSION_INDEX: NumericTile(VitalKind.PERFUSION_INDEX,
                                                   theme.SMALL_NUMERIC_PX),
        }
        self.nibp_tile = NibpTile()
        self.alarm_bar = AlarmBar()
        # Sound follows the core's audio state; with no device it reports a technical alarm.
        self.alarm_audio: AlarmAudio | None = AlarmAudio(workstation, parent=self) if audio \
            else None
        self.flags_list = OutOfLimitsList()

        self._build_layout()
        self._build_actions()
        # Elided: a long device or database text must never widen the window.
        self.device_label = ElidedLabel()
        self.recorder_label = ElidedLabel()
        self.recorder_label.setStyleSheet(f"color: {theme.ALARM}; font-weight: bold;")
        self.database_label = ElidedLabel(f"Database: {workstation.database.display_url}")
        status_bar = self.statusBar()
        status_bar.addWidget(self.device_label)
        status_bar.addWidget(self.recorder_label)
        status_bar.addPermanentWidget(self.database_label)
        # Who is signed in (User menu) and the record badge (Record menu).
        self.accounts = AccountControls(self, workstation)
        self.records = RecordControls(self, workstation)
        self.record_badge = self.records.badge
        self.addenda = AddendumControls(self, workstation, self.records)  # Record menu
        # F12 / idle lock: behind it only the alarm keys (and the trend range) still work.
        self.lock = LockControls(
            self, workstation, self._root_layout,
            keep_enabled=[self.acknowledge_action, self.pause_action, self.history_action,
                          self.volume_up_action, self.volume_down_action,
                          *self.trends.range_actions.values()],
        )
        self.lock.add_to_menu(self.accounts.menu)
        self.review = ReviewControls(self, workstation)  # Review menu: F9, its own window

        self.timer = QTimer(self)
        self.timer.setInterval(TIMER_INTERVAL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        # State changes from the core, on the GUI thread: a new alarm event updates the alarm
        # bar at once (annunciation latency), not at the next frame.
        self.core_events = CoreEvents(workstation.events, self)
        self.core_events.alarm_events.connect(lambda _events: self._refresh_alarms())
        self.core_events.device_status.connect(lambda _status: self._refresh_status())
        self.core_events.recorder_error.connect(lambda _error: self._refresh_status())
        self.core_events.session_changed.connect(lambda _session: self.refresh())
        self._refresh_status()  # then on every device status or recorder change
        self.refresh()

    # -- building ------------------------------------------------------------------------------

    def _build_layout(self) -> None:
        tiles = QGridLayout()
        tiles.setSpacing(6)
        tiles.addWidget(self.tiles[VitalKind.HR], 0, 0)
        tiles.addWidget(self.tiles[VitalKind.SPO2], 0, 1)
        tiles.addWidget(self.tiles[VitalKind.PULSE_RATE], 1, 0)
        tiles.addWidget(self.tiles[VitalKind.PERFUSION_INDEX], 1, 1)
        tiles.addWidget(self.nibp_tile, 2, 0, 1, 2)
        flags_title = QLabel("Out of limits")
        flags_title.setFont(theme.font(theme.TILE_LABEL_PX, bold=True))
        flags_title.setStyleSheet(f"color: {theme.TEXT_DIM};")
        right = QVBoxLayout()
        right.setSpacing(6)
        right.addLayout(tiles)
        right.addWidget(flags_title)
        right.addWidget(self.flags_list, 1)
        right_widget = QWidget()
        right_widget.setLayout(right)
        right_widget.setFixedWidth(440)

        # The numerics keep their width; the trends give way on a 1280 px screen (their
        # range buttons may then be cut; the View menu and shortcuts have them too).
        self.trends.setMinimumWidth(TRENDS_MIN_WIDTH_PX)
        centre = QVBoxLayout()
        centre.setSpacing(4)
        centre.addWidget(self.trends, 3)
        centre.addWidget(self.pleth, 1)
        body = QHBoxLayout()
        body.setContentsMargins(6, 4, 6, 4)
        body.addWidget(self.workflow_panel)
        body.addLayout(centre, 1)
        body.addWidget(right_widget)

        root = QVBoxLayout()
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self.alarm_bar)
        root.addWidget(self.training_banner)
        root.addWidget(self.session_panel)
        root.addLayout(body, 1)
        self._root_layout = root
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)

    def _build_actions(self) -> None:
        panel = self.session_panel
        toolbar = QToolBar("Session")
        toolbar.setObjectName("session_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        session_menu = self.menuBar().addMenu("&Session")
        for act in panel.actions_in_order:
            toolbar.addAction(act)
            session_menu.addAction(act)
            if act is panel.end_action:
                session_menu.addSeparator()
        session_menu.addSeparator()
        session_menu.addAction("&Quit", self.close)
        view_menu = self.menuBar().addMenu("&View")
        for trend_range in RANGES:
            view_menu.addAction(self.trends.range_actions[trend_range.name])
        self.devices_action = QAction("&Devices…", self)
        self.devices_action.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.devices_action.setToolTip("Choose, test and watch this workstation's devices "
                                       "(Ctrl+Shift+D)")
        self.devices_action.triggered.connect(lambda _=False: self.open_device_settings())
        self.menuBar().addMenu("&Workstation").addAction(self.devices_action)
        self._build_alarm_actions()
        self.addToolBar(toolbar)

    def _build_alarm_actions(self) -> None:
        def action(text: str, shortcuts: list[str], tip: str, slot: Callable[[], object]
                   ) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(s) for s in shortcuts])
            # Window-wide: the nurse can silence from any widget that has focus.
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setToolTip(f"{tip} ({', '.join(shortcuts)})")
            act.triggered.connect(lambda _=False: slot())
            self.addAction(act)
            return act

        self.acknowledge_action = action("&Acknowledge", ["F2", "Ctrl+K"],
                                         "Acknowledge the alarms on", self.acknowledge_alarms)
        self.pause_action = action("Audio &pause", ["F3", "Ctrl+P"],
                                   "Pause the alarm sound", self.pause_alarm_audio)
        self.history_action = action("Alarm &history…", ["F4", "Ctrl+H"],
                                     "The session's alarm record", self.open_alarm_history)
        self.limits_action = action("Alarm &limits…", ["F5", "Ctrl+L"],
                                    "Adjust limits / alarm off for this session",
                                    self.open_alarm_limits)
        self.volume_up_action = action("Alarm volume &up", ["Ctrl+Shift+Up"],
                                       "Louder alarm tones", lambda: self.change_volume(+0.1))
        self.volume_down_action = action("Alarm volume &down", ["Ctrl+Shift+Down"],
                                         "Quieter alarm tones (never below the floor)",
                                         lambda: self.change_volume(-0.1))
        menu = self.menuBar().addMenu("&Alarms")
        for act in (self.acknowledge_action, self.pause_action, self.history_action,
                    self.limits_action):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.volume_up_action)
        menu.addAction(self.volume_down_action)
        self.alarm_bar.ack_button.setDefaultAction(self.acknowledge_action)
        self.alarm_bar.pause_button.setDefaultAction(self.pause_action)
        self.alarm_bar.history_button.setDefaultAction(self.history_action)

    def change_volume(self, step: float) -> float | None:
        """Step the alarm volume; the audio player keeps it at or above its floor."""
        if self.alarm_audio is None:
            return None
        volume = self.alarm_audio.set_volume(self.alarm_audio.volume + step)
        self.statusBar().showMessage(
            f"Alarm volume {volume:.0%} (the lowest setting is {VOLUME_FLOOR:.0%})", 4000
        )
        return volume

    def acknowledge_alarms(self) -> None:
        self.workstation.acknowledge_alarms(self.user)
        self._refresh_alarms()

    def pause_alarm_audio(self) -> None:
        self.workstation.pause_alarm_audio(self.user)
        self._refresh_alarms()

    def open_alarm_history(self) -> AlarmHistoryDialog:
        dialog = AlarmHistoryDialog(self.workstation, parent=self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_alarm_limits(self) -> AlarmLimitsDialog:
        dialog = AlarmLimitsDialog(self.workstation, self.user, parent=self)
        dialog.accepted.connect(self._refresh_alarms)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_device_settings(self) -> DeviceSettingsDialog:
        dialog = DeviceSettingsDialog(self.workstation, parent=self)
        dialog.applied.connect(self.refresh)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # window-modal, non-blocking, like the session dialogs
        return dialog

    def open_sign_dialog(self, session_id: int | None = None) -> SignSessionDialog | None:
        """Sign record for an ended session (default: the last one), for the signed-in
        nurse; an open one for the same session is raised instead."""
        return self.records.open_sign_dialog(session_id)

    def open_addendum_dialog(self, session_id: int | None = None) -> AddendumDialog | None:
        """Add signed addendum (a correction or note) to a signed session (default: the last
        ended one), for the signed-in user; an unsigned session is refused with a message."""
        return self.addenda.open_dialog(session_id)

    # -- the frame -----------------------------------------------------------------------------

    @property
    def timer_interval_ms(self) -> int:
        return self.timer.interval()

    def refresh(self) -> None:
        """One frame: numerics, header, flags, trends (if due) and the pleth."""
        ws = self.workstation
        now = ws.clock.now()
        readings = ws.readings()
        for kind, tile in self.tiles.items():
            tile.show_reading(readings.get(kind))
        self.nibp_tile.show_readings(readings.get(VitalKind.NIBP_SYSTOLIC),
                                     readings.get(VitalKind.NIBP_DIASTOLIC),
                                     readings.get(VitalKind.NIBP_MEAN))
        self.session_panel.refresh()
        self.workflow_panel.refresh()  # does its work about once a second
        self.accounts.refresh()
        self.records.refresh()  # verifies only when the session's state changed
        self.lock.refresh()  # after the panels: behind the lock their actions stay grey
        if self.training_banner.isHidden() == ws.training:  # the devices may have changed
            self.training_banner.setVisible(ws.training)
        self._refresh_alarms()
        self._refresh_flags(ws.active_flags())
        self.trends.refresh(now)
        self.pleth.refresh(now)

    def _refresh_alarms(self) -> None:
        """Alarm bar, tile flashing and sound, every tick, from the core's alarm state."""
        ws = self.workstation
        alarms = ws.active_alarms()
        audio = ws.audio_state()
        flash_t = self.flash_clock()
        self.alarm_bar.show_state(alarms, audio, ws.clock.now(), flash_t, ws.audio_problem)
        self._flash_tiles(alarms, flash_t)
        if self.alarm_audio is not None:
            self.alarm_audio.follow(audio)

    def _flash_tiles(self, alarms: list[ActiveAlarm], flash_t: float) -> None:
        # Limits beside each value; the most urgent alarm of a tile's parameter(s) sets its
        # colour and flash (ui/numeric_tile.py).
        engine = self.workstation.alarm_engine
        annunciate_tiles(self.tiles, self.nibp_tile, alarms, engine.limits(),
                         engine.alarms_off(), flash_t)

    def _refresh_flags(self, active: list[LimitFlag]) -> None:
        # Now: the flags in the alarms' wording; recent onsets: the engine's onset events.
        ws = self.workstation
        self.flags_list.show_state(active, ws.active_alarms(), ws.alarm_log())

    def flag_list_texts(self) -> list[str]:
        """Every line of the out-of-limits list as shown (for tests)."""
        return self.flags_list.texts()

    def _refresh_status(self) -> None:
        statuses = sorted(self.workstation.device_statuses(), key=lambda s: s.source)
        error = self.workstation.write_error
        key = (tuple((s.source, s.state, s.conditions, s.message) for s in statuses), error)
        if key == self._status_key:
            return
        self._status_key = key
        text = "   ".join(device_status_text(s) for s in statuses) or "no device reporting"
        self.device_label.setText(f"Devices: {text}")
        problem = not statuses or any(device_has_problem(s) for s in statuses)
        self.device_label.setStyleSheet(
            f"color: {theme.TECHNICAL_ALARM}; font-weight: bold;" if problem else ""
        )
        self.recorder_label.setText(f"⚠ Not saved yet: {error}" if error else "")

    # -- closing -------------------------------------------------------------------------------

    def close_without_asking(self) -> None:
        """Close cleanly now (SIGTERM/SIGINT): a running session is left INTERRUPTED."""
        self.confirm_close = False
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.confirm_close and self.workstation.recording and not self._closing:
            answer = QMessageBox.question(
                self, "Close KAT Monitor",
                "A session is recording. Close anyway?\n\nEverything recorded so far is saved; "
                "the session is kept as interrupted and can be reopened (Session → Reopen).",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self._closing = True
        self.timer.stop()
        self.core_events.close()
        if self.alarm_audio is not None:
            self.alarm_audio.stop()
        # Stops the devices and flushes the recorder; an active session becomes INTERRUPTED.
        self.workstation.shutdown()
        event.accept()
