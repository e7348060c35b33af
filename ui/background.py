"""Run blocking core calls (database reads, signing) off the GUI thread.

:func:`run_in_background` hands a function to Qt's thread pool and delivers its result - or the
exception it raised - to a slot on the GUI thread through a queued signal. A dialog shows a busy
state meanwhile; if it is closed and deleted first, the result is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

_running: set[_Task] = set()  # keeps each task's signals alive until its result is delivered


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.work = work
        self.signals = _Signals()

    def run(self) -> None:  # on a pool thread
        try:
            result = self.work()
        except Exception as error:
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)


def run_in_background(work: Callable[[], Any], on_done: Callable[[Any], None],
                      on_failed: Callable[[Exception], None]) -> None:
    """Call ``work()`` on a pool thread; then ``on_done(result)`` or ``on_failed(error)`` on the
    GUI thread. Pass bound methods of a widget: they are not called once it is deleted."""
    task = _Task(work)
    _running.add(task)
    queued = Qt.ConnectionType.QueuedConnection
    task.signals.done.connect(on_done, queued)
    task.signals.failed.connect(on_failed, queued)
    for signal in (task.signals.done, task.signals.failed):
        signal.connect(lambda _result, task=task: _running.discard(task), queued)
    QThreadPool.globalInstance().start(task)
