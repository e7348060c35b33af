"""The window's one link to the core's event hub (katmonitor/events.py).

:class:`CoreEvents` subscribes to the hub and re-emits each event as a Qt signal. The core
publishes on whatever thread the change happened (a device thread, the recorder's writer, the
UI thread itself while the pipeline holds its lock), so every event is first queued to this
object's thread - the GUI thread - and only there emitted: slots always run on the GUI thread,
after the publisher has let go of its locks, and may call the workstation freely.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal

from katmonitor.events import (
    ALARM_EVENTS,
    DEVICE_STATUS,
    RECORDER_ERROR,
    SESSION_CHANGED,
    TOPICS,
    EventHub,
)


class CoreEvents(QObject):
    alarm_events = Signal(object)
    """New alarm events (``list[AlarmEvent]``)."""
    device_status = Signal(object)
    """A device's new ``DeviceStatus``, or None when devices were removed."""
    recorder_error = Signal(object)
    """The recorder's problem (``str``), or None once it stores again."""
    session_changed = Signal(object)
    """The workstation's ``Session`` after it started, was reopened, ended or interrupted."""

    _received = Signal(str, object)  # any thread -> queued to the GUI thread

    def __init__(self, hub: EventHub, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._signals = {
            ALARM_EVENTS: self.alarm_events,
            DEVICE_STATUS: self.device_status,
            RECORDER_ERROR: self.recorder_error,
            SESSION_CHANGED: self.session_changed,
        }
        self._received.connect(self._emit, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: list[Callable[[], None]] = [
            hub.subscribe(topic, functools.partial(self._forward, topic)) for topic in TOPICS
        ]

    def close(self) -> None:
        """Stop listening (the window closes; the workstation may outlive it)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _forward(self, topic: str, payload: object) -> None:  # on the publisher's thread
        # RuntimeError: the window was deleted without closing; nobody listens any more.
        with contextlib.suppress(RuntimeError):
            self._received.emit(topic, payload)

    def _emit(self, topic: str, payload: object) -> None:
        self._signals[topic].emit(payload)
