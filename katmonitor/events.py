"""The core's event hub: state changes the window (or anything else) wants to hear about.

The pipeline, the recorder and the workstation publish here; a subscriber is called with the
payload on the publishing thread - a device thread, the recorder's writer thread or the UI
thread - sometimes while the publisher holds its own lock. A handler must therefore be quick and
must not call back into the core: it hands the payload over (the window's adapter,
``ui/core_events.py``, re-emits it as a queued Qt signal so its slots run on the GUI thread).
No Qt here: the core stays headless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]

ALARM_EVENTS = "alarm_events"
"""New alarm events (payload: ``list[AlarmEvent]``), from a device thread or the UI thread."""
DEVICE_STATUS = "device_status"
"""A device's status changed (payload: ``DeviceStatus``), or devices were removed (None)."""
RECORDER_ERROR = "recorder_error"
"""The recorder could not store data, or stores again (payload: the message, or None)."""
SESSION_CHANGED = "session_changed"
"""The workstation's session started, was reopened, ended or interrupted (payload: ``Session``
or None)."""

TOPICS = (ALARM_EVENTS, DEVICE_STATUS, RECORDER_ERROR, SESSION_CHANGED)


class EventHub:
    """Thread-safe publish/subscribe by topic name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(payload)`` for every event published on ``topic``; returns the
        function that unsubscribes it."""
        with self._lock:
            self._handlers.setdefault(topic, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                handlers = self._handlers.get(topic, [])
                if handler in handlers:
                    handlers.remove(handler)

        return unsubscribe

    def publish(self, topic: str, payload: object = None) -> None:
        """Hand ``payload`` to the topic's subscribers. A failing subscriber is logged and
        does not stop the others, nor the publisher."""
        with self._lock:
            handlers = list(self._handlers.get(topic, ()))
        for handler in handlers:
            try:
                handler(payload)
            except Exception:
                log.exception("event handler for %s failed", topic)
