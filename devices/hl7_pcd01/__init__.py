"""HL7 v2 ORU^R01 as profiled by IHE PCD-01, over MLLP: decoder, encoder and gateway emulator.

Modules: ``constants`` (MLLP bytes, IEEE 11073 codes, units, OBX-8 flags), ``framing`` (MLLP
frames, or CR/LF-separated messages of a raw capture), ``messages`` (HL7 times, the MSH
header, OBX code and unit look-ups, ACKs), ``decoder`` (bytes in, samples and ACKs out; its
docstring states the decoding rules) and ``emulator`` (ORU^R01 as a gateway sends it).
"""

from __future__ import annotations

from devices.hl7_pcd01.decoder import Hl7Decoder
from devices.hl7_pcd01.emulator import (
    Hl7Emulator,
    build_oru,
)
from devices.hl7_pcd01.framing import mllp_frame
from devices.hl7_pcd01.messages import (
    build_ack,
    format_dtm,
    parse_dtm,
)

__all__ = [
    "Hl7Decoder",
    "Hl7Emulator",
    "build_ack",
    "build_oru",
    "format_dtm",
    "mllp_frame",
    "parse_dtm",
]
