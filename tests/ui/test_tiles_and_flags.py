"""Numeric tiles and the out-of-limits list, driven by samples fed into the real pipeline of a
workstation on a ManualClock (no device, so time is fully under the test's control)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget

from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import Sample
from katmonitor.base.vitals import VitalKind
from ui import theme
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]

HR, SPO2 = VitalKind.HR, VitalKind.SPO2


def feed(window: MainWindow, kind: VitalKind, value: float | None, at: float | None = None) -> None:
    ws = window.workstation
    ws.pipeline.on_sample(Sample(ws.clock.now() if at is None else at, "test", kind, value))


def pixels_of_colour(widget: QWidget, colour: str, tolerance: int = 40) -> int:
    """How many rendered pixels of ``widget`` are close to ``colour`` (what the nurse sees)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), :3]
    target = QColor(colour)
    bgr = np.array([target.blue(), target.green(), target.red()], dtype=int)
    return int(np.count_nonzero(np.abs(pixels.astype(int) - bgr).max(axis=2) <= tolerance))


def test_tile_without_reading_shows_dashes(make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock())
    tile = window.tiles[HR]
    assert tile.state == "empty"
    assert tile.value_text() == "---"
    assert window.nibp_tile.state == "empty"


def test_out_of_limits_value_gets_a_marker_then_the_alarms_colour_and_is_listed(
        make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = make_window([], clock=clock)
    tile = window.tiles[HR]

    feed(window, HR, 88.0)
    window.refresh()
    assert tile.state == "current"
    assert pixels_of_colour(tile.value_label, theme.HR) > 200
    assert pixels_of_colour(tile.value_label, theme.ALARM_MEDIUM) == 0

    clock.advance(1.0)
    feed(window, HR, 150.0)
    window.refresh()
    assert tile.state == "alarm"
    assert tile.value_text() == "150"
    assert tile.marker_text() == "▲ HIGH > 120"  # not colour alone
    # No alarm yet (HR's 5 s condition delay): no alarm colour, the marker says it.
    assert pixels_of_colour(tile.value_label, theme.HR) > 200
    assert "▲ HR 150 bpm > 120" in window.flag_list_texts()
    for _ in range(5):
        clock.advance(1.0)
        feed(window, HR, 150.0)
    window.refresh()
    # The medium HR alarm is on: the value takes its colour, as its alarm bar entry.
    assert window.alarm_bar.entry_texts()[0] == "** HR 150 bpm > 120"
    assert pixels_of_colour(tile.value_label, theme.ALARM_MEDIUM) > 200
    assert pixels_of_colour(tile.value_label, theme.ALARM_HIGH) == 0

    feed(window, SPO2, 86.0)
    window.refresh()
    assert window.tiles[SPO2].state == "alarm"
    assert window.tiles[SPO2].marker_text() == "▼ LOW < 90"
    assert "▼ SpO2 86 % < 90" in window.flag_list_texts()

    clock.advance(1.0)
    feed(window, HR, 80.0)
    window.refresh()
    assert tile.state == "current"
    assert tile.marker_text() == ""
    texts = window.flag_list_texts()
    assert "▲ HR 150 bpm > 120" not in texts, "no longer active"
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d  HR 150 bpm > 120", t) for t in texts), \
        "still listed as a recent (alarm) onset"


def test_reading_older_than_its_freshness_is_shown_stale_never_current(
        make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = make_window([], clock=clock)
    tile = window.tiles[HR]
    feed(window, HR, 150.0)  # out of limits too: stale wins, it is not the state now
    window.refresh()
    assert tile.state == "alarm"

    clock.advance(12.0)
    window.refresh()
    assert tile.state == "stale"
    assert tile.value_text() == "150"
    assert pixels_of_colour(tile.value_label, theme.ALARM) == 0
    assert pixels_of_colour(tile.value_label, theme.STALE, tolerance=12) > 200
    assert tile.marker_text() == "STALE · 12 s ago"
    assert "▲ HR 150 bpm > 120" not in window.flag_list_texts()


def test_nibp_tile_shows_sys_dia_mean_time_and_age(make_window: MakeWindow) -> None:
    clock = ManualClock()
    window = make_window([], clock=clock)
    for kind, value in ((VitalKind.NIBP_SYSTOLIC, 124.0), (VitalKind.NIBP_DIASTOLIC, 78.0),
                        (VitalKind.NIBP_MEAN, 93.0)):
        feed(window, kind, value)
    clock.advance(4 * 60 + 5)
    window.refresh()
    tile = window.nibp_tile
    assert tile.state == "current"
    assert tile.value_text() == "124/78 (93)"
    assert re.fullmatch(r"at \d\d:\d\d · 4 min ago", tile.taken_text())

    clock.advance(12 * 60)  # 16 min old: past NIBP's 15 min freshness
    window.refresh()
    assert tile.state == "stale"
    assert tile.marker_text() == "STALE"
    assert tile.taken_text().endswith("16 min ago")


def test_nibp_out_of_limits_names_the_part(make_window: MakeWindow) -> None:
    window = make_window([], clock=ManualClock())
    for kind, value in ((VitalKind.NIBP_SYSTOLIC, 172.0), (VitalKind.NIBP_DIASTOLIC, 88.0),
                        (VitalKind.NIBP_MEAN, 116.0)):
        feed(window, kind, value)
    window.refresh()
    assert window.nibp_tile.state == "alarm"
    assert window.nibp_tile.marker_text() == "▲ SYS HIGH > 160"
