"""Masimo ASCII 1 constants: serial settings, the fields read, ALARM and EXC bits."""

from __future__ import annotations

from devices.codec import SERIAL_9600_8N1
from katmonitor.base.vitals import VitalKind

SERIAL_SETTINGS: dict[str, object] = dict(SERIAL_9600_8N1)  # Masimo: no flow control

MAX_LINE = 512
"""Longest line accepted; real lines are ~130 bytes, so more means a lost line end or noise."""

# Fields emitted as samples, in output order.
FIELD_KINDS: dict[str, VitalKind] = {  # keys of devices.masimo.lines.Line.values
    "SPO2": VitalKind.SPO2,
    "BPM": VitalKind.PULSE_RATE,
    "PI": VitalKind.PERFUSION_INDEX,
}

# ALARM bits that describe the device rather than the client. The SpO2/PR limit bits (0x01-0x10)
# are the oximeter's own alarms; KAT Monitor applies its own limits, so they are not mapped.
ALARM_CONDITIONS: dict[int, str] = {
    0x0020: "alarm_silenced",
    0x0040: "low_battery",
}

# EXC bits. 0x800 ("Masimo SET") is informational, not a fault, so it maps to nothing.
EXC_CONDITIONS: dict[int, str] = {
    0x000001: "no_sensor",
    0x000002: "defective_sensor",
    0x000004: "low_perfusion",
    0x000008: "pulse_search",
    0x000010: "interference",
    0x000020: "sensor_off",
    0x000040: "ambient_light",
    0x000080: "unrecognized_sensor",
    0x000400: "low_signal_iq",
    0x001000: "no_cable",
}
EXC_SENSOR_OFF = 0x000020
EXC_MASIMO_SET = 0x000800

# EXC words that describe the sensor, given to the line's SpO2, pulse and PI values too.
SENSOR_WORDS = frozenset(
    {
        "no_sensor",
        "defective_sensor",
        "sensor_off",
        "unrecognized_sensor",
        "no_cable",
        "pulse_search",
    }
)
# Of those, the ones with which the line's numbers are not a reading of the client.
NO_READING_WORDS = SENSOR_WORDS - {"pulse_search"}

NO_VALUE = frozenset({"no_value"})
