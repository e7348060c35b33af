"""Alarm annunciation findings from the 1600x900 screenshots, in the real window (offscreen): a
real Workstation on a temporary SQLite database, no device, a ManualClock; samples and device
statuses go through the real pipeline and alarm engine. The flash phase follows a fake UI clock.

- a long alarm or status text never widens the window; the numerics stay fully visible;
- one number per fact: bar, tile, out-of-limits list and history show the same value and the
  engine's effective limit, in the same words;
- the priority colour is the alarm's everywhere; patient alarms before technical ones, which
  have their own style; an acknowledged alarm stops flashing; a latched one stays until
  acknowledged; the history names alarms in plain words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from test_tiles_and_flags import pixels_of_colour
from vitals_feed import feed

from katmonitor.alarms.engine import LINK_WORDS
from katmonitor.base.clock import ManualClock
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample
from katmonitor.base.vitals import VitalKind
from ui import theme
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]
HR, PR, SPO2 = VitalKind.HR, VitalKind.PULSE_RATE, VitalKind.SPO2
SYS, DIA, MEAN = VitalKind.NIBP_SYSTOLIC, VitalKind.NIBP_DIASTOLIC, VitalKind.NIBP_MEAN

# The longest texts the code builds: every link word of a disconnection with the transport's
# message around a long device path, the audio player's QtMultimedia error, three overdue
# schedule prompts and a storage error (their detail is whatever the system said).
LONG_PORT = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
LONG_DEVICE_MESSAGE = f"cannot open {LONG_PORT}: [Errno 2] could not open port {LONG_PORT}: " \
    f"[Errno 2] No such file or directory: '{LONG_PORT}' (unplugged?)"
LONG_AUDIO_MESSAGE = ("audio unavailable: QtMultimedia cannot load (libpulse.so.0: cannot open "
                      "shared object file: No such file or directory; libasound.so.2: cannot "
                      "open shared object file: No such file or directory)")


class FlashClock:
    def __init__(self) -> None:
        self.t = 0.1

    def __call__(self) -> float:
        return self.t


def window_with_clock(make_window: MakeWindow) -> tuple[MainWindow, FlashClock]:
    flash = FlashClock()
    return make_window([], clock=ManualClock(), flash_clock=flash, audio=False), flash


def feed_together(window: MainWindow, values: dict[VitalKind, float], seconds: int) -> None:
    ws = window.workstation
    clock = ws.clock
    assert isinstance(clock, ManualClock)
    for _ in range(seconds):
        for kind, value in values.items():
            ws.pipeline.on_sample(Sample(clock.now(), "test", kind, value))
        clock.advance(1.0)


def every_long_message(window: MainWindow) -> None:
    ws = window.workstation
    now = ws.clock.now()
    ws.pipeline.on_status(DeviceStatus(now, "ge-dri", ConnectionState.DISCONNECTED,
                                       frozenset(LINK_WORDS), LONG_DEVICE_MESSAGE))
    ws.pipeline.on_status(DeviceStatus(now, "masimo-radical-7", ConnectionState.CONNECTED,
                                       frozenset({"sensor_off", "defective_sensor",
                                                  "unrecognized_sensor", "low_battery"}),
                                       LONG_DEVICE_MESSAGE))
    ws.report_audio_unavailable(LONG_AUDIO_MESSAGE)
    ws.report_escalated_prompts(["BP re-check 40 min after the dose",
                                 "MOAA/S and CADSS 60 min after the dose",
                                 "Observation minimum reached: discharge assessment"])
    for kind in (HR, PR, MEAN):
        ws.set_alarm_off(kind, True, "rn.lee")
    # Patient alarms on every tile, with the widest values.
    feed_together(window, {SPO2: 82.0, SYS: 188.0, DIA: 118.0}, 12)


def inside(widget: QWidget, window: MainWindow) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return window.rect().contains(QRect(top_left, widget.size()))


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1600, 900)])
def test_long_alarm_and_status_texts_never_widen_the_window_nor_hide_the_numerics(
        qtbot: QtBot, make_window: MakeWindow, width: int, height: int) -> None:
    window, _ = window_with_clock(make_window)
    every_long_message(window)
    window.refresh()
    qtbot.waitUntil(lambda: LONG_PORT in window.device_label.text(), timeout=2_000)
    ws = window.workstation
    texts = [a.message for a in ws.active_alarms()]
    assert any(LONG_PORT in t for t in texts) and any("libpulse" in t for t in texts)

    hint = window.minimumSizeHint()
    assert hint.width() <= width and hint.height() <= height, hint
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.width() == width and window.height() == height,
                    timeout=2_000)
    window.refresh()
    qtbot.wait(50)  # let the layout settle after the resize

    tiles = [*window.tiles.values(), window.nibp_tile]
    for tile in tiles:
        for label in (tile.value_label, tile.limits_label, tile.marker_label):
            assert label.isVisible() and inside(label, window), (tile.title_label.text(), label)
            needed = max(label.fontMetrics().horizontalAdvance(line)
                         for line in label.text().split("\n"))
            assert label.contentsRect().width() >= needed, \
                f"{tile.title_label.text()}: {label.text()!r} is cut off"
    assert window.tiles[SPO2].value_text() == "82"
    assert window.nibp_tile.value_text() == "188/118 (---)"
    assert window.tiles[HR].limits_text() == "ALARM\nOFF"
    bar = window.alarm_bar
    for button in (bar.ack_button, bar.pause_button, bar.history_button, bar.audio_label):
        assert button.isVisible() and inside(button, window)
    # The long texts are shortened on screen, whole in the tooltip.
    shortened = [label for label in bar.entry_labels() if label.is_elided()]
    assert shortened and all(label.toolTip() == label.text() for label in shortened)
    assert window.device_label.is_elided()


def test_one_number_per_fact_in_bar_tile_list_and_history(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, _ = window_with_clock(make_window)
    ws = window.workstation
    bar = window.alarm_bar
    # First below the limit at 89, 88 during the 10 s condition delay, 87 when the alarm
    # starts, 88 now: four values, each shown where it belongs.
    feed(window, SPO2, [97.0, 89.0] + [88.0] * 9 + [87.0])
    feed(window, SPO2, [88.0])
    window.refresh()
    onset = next(e for e in ws.alarm_log() if e.event == "onset")
    assert (onset.value, onset.limit, onset.message) == (87, 90, "SpO2 87 % < 90")

    tile = window.tiles[SPO2]
    assert bar.entry_texts() == ["** SpO2 88 % < 90"]
    assert tile.value_text() == "88" and tile.marker_text() == "▼ LOW < 90"
    assert tile.limits_text() == "▼ 90"
    texts = window.flag_list_texts()
    assert texts[0] == "▼ SpO2 88 % < 90"
    onset_time = datetime.fromtimestamp(onset.time).strftime("%H:%M:%S")
    assert f"{onset_time}  SpO2 87 % < 90" in texts, texts

    # A nurse moves the limit while the alarm is on: every place shows the new limit at once.
    ws.adjust_limit(SPO2, "low", 89, "rn.lee", "usual SpO2 89-91")
    window.refresh()
    assert bar.entry_texts() == ["** SpO2 88 % < 89"]
    assert tile.marker_text() == "▼ LOW < 89" and tile.limits_text() == "▼ 89"
    assert window.flag_list_texts()[0] == "▼ SpO2 88 % < 89"

    history = window.open_alarm_history()
    qtbot.waitUntil(lambda: not history.busy, timeout=5_000)
    row = next(r for r in history.rows() if r[3] == "onset")
    assert row[0] == onset_time and row[1:3] == ["SpO2 low", "** medium"]
    assert row[4:7] == ["87", "90", "SpO2 87 % < 90"]
    history.reject()


def test_the_priority_colour_is_the_alarms_in_bar_tile_and_list(
        make_window: MakeWindow) -> None:
    window, _ = window_with_clock(make_window)
    feed(window, SPO2, [97.0] + [88.0] * 12)  # a medium SpO2 alarm
    window.refresh()
    tile = window.tiles[SPO2]
    assert window.alarm_bar.entry_colour(0) == theme.ALARM_MEDIUM
    assert tile.flash[0] == theme.ALARM_MEDIUM
    assert pixels_of_colour(tile.value_label, theme.ALARM_MEDIUM) > 200
    for red in (theme.ALARM, theme.ALARM_HIGH):
        assert pixels_of_colour(tile.value_label, red) == 0, "not red in the tile"
        assert pixels_of_colour(tile.marker_label, red) == 0
    item = window.flags_list.item(0)
    assert item.foreground().color().name() == theme.ALARM_MEDIUM

    feed(window, SPO2, [82.0] * 2)  # below 85: high - red everywhere
    window.refresh()
    assert window.alarm_bar.entry_colour(0) == theme.ALARM_HIGH
    assert tile.flash[0] == theme.ALARM_HIGH
    assert pixels_of_colour(tile.value_label, theme.ALARM_HIGH) > 200
    assert window.flags_list.item(0).foreground().color().name() == theme.ALARM_HIGH


def test_patient_alarms_come_first_and_technical_ones_have_their_own_style(
        make_window: MakeWindow) -> None:
    window, _ = window_with_clock(make_window)
    ws = window.workstation
    # The technical alarms start first (and the no-audio one is medium, like the HR alarm).
    ws.report_audio_unavailable(LONG_AUDIO_MESSAGE)
    ws.pipeline.on_status(DeviceStatus(ws.clock.now(), "ge-dri", ConnectionState.DISCONNECTED,
                                       frozenset({"missing"}), LONG_DEVICE_MESSAGE))
    feed_together(window, {HR: 130.0, SPO2: 82.0, SYS: 100.0, DIA: 40.0}, 12)
    window.refresh()
    bar = window.alarm_bar
    texts = bar.entry_texts()
    assert texts[0] == "*** SpO2 82 % < 90", texts
    assert set(texts[1:3]) == {"** HR 130 bpm > 120", "** NIBP dia 40 mmHg < 50"}, texts
    assert [label.text() for label in bar.patient_rows] == texts[:3]
    assert texts[3].startswith("** ⚠ No alarm sound") or texts[3].startswith("** ⚠ ge-dri")
    assert {t.split(" - ")[0] for t in texts[3:]} == {"** ⚠ No alarm sound",
                                                      "** ⚠ ge-dri: disconnected (missing)"}
    assert [bar.entry_technical_style(i) for i in range(len(texts))] == [False] * 3 + [True] * 2
    # The no-audio alarm stays on screen, in the technical zone and as NO ALARM SOUND.
    assert bar.audio_text() == "NO ALARM SOUND"


def test_an_acknowledged_alarm_stops_flashing_and_stays_while_its_condition_lasts(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, flash = window_with_clock(make_window)
    bar = window.alarm_bar
    tile = window.tiles[HR]
    feed(window, HR, [80.0] + [130.0] * 7)  # a medium HR alarm
    phases = []
    for t in (0.1, 1.1, 2.05):
        flash.t = t
        window.refresh()
        phases.append(bar.entry_lit(0))
    assert phases == [True, False, True], "medium: flashing at 0.5 Hz"

    window.acknowledge_alarms()
    for t in (0.1, 0.6, 1.1, 2.05):
        flash.t = t
        window.refresh()
        assert bar.entry_texts() == ["** HR 130 bpm > 120   ACK"]
        assert not bar.entry_lit(0), "acknowledged: steady"
        assert tile.flash == (theme.ALARM_MEDIUM, False)

    # The reminder (3 min later, the condition still there) makes it flash again.
    feed(window, HR, [130.0] * 181)
    flash.t = 0.1
    window.refresh()
    assert bar.entry_texts() == ["** HR 130 bpm > 120"] and bar.entry_lit(0)
    assert tile.flash == (theme.ALARM_MEDIUM, True)


def test_a_latched_alarm_stays_listed_until_acknowledged(make_window: MakeWindow) -> None:
    window, flash = window_with_clock(make_window)
    bar = window.alarm_bar
    feed(window, SPO2, [97.0] + [82.0] * 11)  # high: latches (default profile: high only)
    feed(window, SPO2, [97.0] * 3)  # recovered, not acknowledged
    flash.t = 0.1
    window.refresh()
    assert bar.entry_texts() == ["*** SpO2 82 % < 90 - ended   LATCHED"]
    assert bar.entry_lit(0), "still flashing: nobody has seen it yet"
    window.acknowledge_alarms()
    window.refresh()
    assert bar.entry_texts() == []

    feed(window, HR, [80.0] + [130.0] * 7)  # medium: does not latch
    window.refresh()
    assert bar.entry_texts() == ["** HR 130 bpm > 120"]
    feed(window, HR, [80.0] * 2)
    window.refresh()
    assert bar.entry_texts() == []


def test_alarm_history_shows_plain_names_never_ids(
        qtbot: QtBot, make_window: MakeWindow) -> None:
    window, _ = window_with_clock(make_window)
    ws = window.workstation
    ws.report_audio_unavailable(LONG_AUDIO_MESSAGE)
    ws.report_escalated_prompts(["BP re-check 40 min"])
    feed(window, SPO2, [97.0] + [82.0] * 12 + [97.0] * 2)
    feed(window, SYS, [120.0, 150.0], step=300.0)  # a rise of 30 mmHg in 5 min: trend alarm
    ws.pipeline.on_status(DeviceStatus(ws.clock.now(), "ge-dri", ConnectionState.CONNECTED,
                                       frozenset({"sensor_off"}), ""))
    window.acknowledge_alarms()
    window.pause_alarm_audio()
    ws.set_alarm_off(HR, True, "rn.lee")
    ws.adjust_limit(SPO2, "low", 88, "rn.lee", "usual SpO2 88-90")
    history = window.open_alarm_history()
    qtbot.waitUntil(lambda: not history.busy, timeout=5_000)
    rows = history.rows()
    names = {r[1] for r in rows}
    assert {"SpO2 low", "⚠ No alarm sound", "⚠ Schedule prompt overdue", "NIBP sys rising",
            "⚠ ge-dri: sensor off", "Alarm sound", "HR"} <= names, names
    for row in rows:
        assert "_" not in row[1] + row[3] and "." not in row[1], row
        assert "tech." not in " ".join(row) and "spo2.low" not in " ".join(row), row
    assert {"onset", "acknowledged", "audio paused", "alarm off", "limit changed"} <= {
        r[3] for r in rows}
    trend = next(r for r in rows if r[1] == "NIBP sys rising" and r[3] == "onset")
    assert trend[6] == "NIBP sys rose 30 mmHg in 15 min, 120 to 150 mmHg"
    history.reject()
