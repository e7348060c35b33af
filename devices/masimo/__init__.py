"""Masimo Rad-8 / Radical-7 serial "ASCII 1": decoder, line encoder and emulator.

The oximeter streams one text line per second, CR LF terminated, at 9600 8N1 (Rad-8 operator's
manual; see docs protocols.md section 3)::

    02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-%
        DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800          (one line, wrapped here)

Models differ in which fields they send (Radical-7 adds ``PVI=``; older Radical-5 lines are
``SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800`` without a timestamp), so fields are read by key,
each by a strict grammar (its fixed width and characters: ``lines.py``), since the line has no
checksum. A field filled with '-' has no value. ``ALARM`` and ``EXC`` are hex bit sets.

The device clock carries no time zone: its timestamp is read as if it were UTC. The driver layer
compares device time with arrival time and handles the offset, so the zone never matters here.

Modules: ``constants`` (serial settings, fields, ALARM and EXC bits), ``lines`` (reading and
writing the fields of one line), ``decoder`` (bytes in, events out) and ``emulator`` (a Rad-8
for the simulator).
"""

from __future__ import annotations

from devices.masimo.constants import (
    MAX_LINE,
    SERIAL_SETTINGS,
)
from devices.masimo.decoder import MasimoDecoder
from devices.masimo.emulator import MasimoEmulator
from devices.masimo.lines import format_ascii1_line

__all__ = [
    "MAX_LINE",
    "SERIAL_SETTINGS",
    "MasimoDecoder",
    "MasimoEmulator",
    "format_ascii1_line",
]
