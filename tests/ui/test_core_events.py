"""The window hears the core through one adapter: events published on any thread arrive as Qt
signals on the GUI thread, and a new alarm reaches the alarm bar without waiting for a frame."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from katmonitor.events import ALARM_EVENTS, RECORDER_ERROR, EventHub
from ui.core_events import CoreEvents
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


def test_an_event_published_on_a_device_thread_is_handled_on_the_gui_thread(
        qtbot: QtBot) -> None:
    hub = EventHub()
    events = CoreEvents(hub)
    handled_on: list[QThread] = []
    events.recorder_error.connect(lambda _message: handled_on.append(QThread.currentThread()))
    with qtbot.waitSignal(events.recorder_error, timeout=2_000) as signal:
        thread = threading.Thread(target=hub.publish, args=(RECORDER_ERROR, "disk full"))
        thread.start()
        thread.join()
    assert signal.args == ["disk full"]
    app = QApplication.instance()
    assert app is not None and handled_on == [app.thread()]


def test_a_closed_adapter_hears_nothing_more(qtbot: QtBot) -> None:
    hub = EventHub()
    events = CoreEvents(hub)
    events.close()
    with qtbot.assertNotEmitted(events.alarm_events, wait=100):
        hub.publish(ALARM_EVENTS, [])


def test_a_new_alarm_reaches_the_bar_without_a_frame(qtbot: QtBot,
                                                     make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock(), audio=False)
    window.timer.stop()  # no frames: only the event can update the bar
    ws = window.workstation
    clock = ws.clock
    assert isinstance(clock, ManualClock)
    for value in [97.0] + [85.0] * 12:
        ws.pipeline.on_sample(Sample(clock.now(), "test", VitalKind.SPO2, value))
        clock.advance(1.0)
    qtbot.waitUntil(lambda: window.alarm_bar.entry_texts() != [], timeout=2_000)
    assert window.alarm_bar.entry_texts()[0].startswith("** SpO2 85 %")
