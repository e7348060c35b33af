"""Device problems (technical conditions) are always visible in the window."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from devices.virtual_time import VirtualTime
from ui.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


def test_a_sensor_off_from_the_device_shows_in_the_status_bar(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    virtual = VirtualTime()  # the oximeter's seconds on a manual clock
    oximeter = virtual.open("sim:normal?protocol=masimo&sensor_off_at=1.5&sensor_off_for=60")
    window = make_window([oximeter], clock=virtual.clock)
    virtual.settle()
    qtbot.waitUntil(lambda: "sim: connected" in window.device_label.text(), timeout=5_000)
    assert "⚠" not in window.device_label.text()
    virtual.sleep(2.0)  # the sensor comes off at 1.5 s
    qtbot.waitUntil(lambda: "sensor off" in window.device_label.text(), timeout=5_000)
    assert "⚠" in window.device_label.text()
    assert "f0b400" in window.device_label.styleSheet()  # amber: a technical condition


def test_a_missing_serial_port_shows_as_disconnected(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window(["masimo:/dev/ttyKATMISSING9"])
    qtbot.waitUntil(lambda: "disconnected" in window.device_label.text(), timeout=5_000)
    assert "does not exist" in window.device_label.text()
