"""Guard against a Qt binding that corrupts reference counts.

PySide6 6.12.0 on Python 3.11 dropped a reference to None on every call of a void C++ method
and to True on every signal emit. The window makes thousands of such calls a second, so it
died with "Fatal Python error: none_dealloc" within minutes (or at exit). pyproject.toml
excludes that release; this test fails on any build that does it again.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


class _Emitter(QObject):
    fired = Signal(int)


def test_void_calls_and_signal_emits_keep_refcounts(qtbot: QtBot) -> None:
    label = QLabel("x")
    qtbot.addWidget(label)
    emitter = _Emitter()
    received: list[int] = []
    emitter.fired.connect(received.append)

    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(2_000):
        label.update()
        label.setText("y" if i % 2 else "z")
        emitter.fired.emit(i)
    none_after, true_after = sys.getrefcount(None), sys.getrefcount(True)

    assert len(received) == 2_000
    # A few references come and go legitimately; 2,000 missing ones do not.
    assert none_after > none_before - 100
    assert true_after > true_before - 100
