"""A monitor gateway for the simulator: ORU^R01 messages as a PCD-01 gateway sends them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import hl7

from devices.codec import Emulator
from devices.hl7_pcd01.constants import (
    _ENCODE_CODES,
    _ENCODE_UNITS,
    _EXPECTED_UNIT,
    _METRICS,
    _VMD,
    ACK_SENDER,
    NIBP_FAMILIES,
    NO_VALUE,
)
from devices.hl7_pcd01.framing import MllpDeframer, _Frame, mllp_frame
from devices.hl7_pcd01.messages import format_dtm
from katmonitor.base.vitals import NIBP_KINDS, VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel


# --- encoder -------------------------------------------------------------------------------

SIM_DEVICE_EUI64 = "0123456789ABCDEF"
SIM_SENDER = f"KATSIM^{SIM_DEVICE_EUI64}^EUI-64"
PCD01_PROFILE = "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"


def _format_value(value: float | None, no_value: str = NO_VALUE) -> str:
    if value is None or not math.isfinite(value):
        return no_value
    return f"{value:.4f}".rstrip("0").rstrip(".")


def build_oru(
    control_id: str,
    time_s: float,
    values: dict[VitalKind, float | None],
    *,
    nibp_time: float | None = None,
    nibp_family: str = "cuff",
    enhanced: bool = True,
    demo: bool = False,
    no_value: str = NO_VALUE,
    second_spo2: float | None = None,
) -> str:
    """A PCD-01 ORU^R01 as a monitor gateway sends it: MSH, PID (a test patient), PV1, OBR,
    the MDS OBX, then one OBX per value (None is sent as -999). NIBP OBXs carry ``nibp_time``
    (default ``time_s``) as their observation time and ^APERIODIC as method; ``nibp_family``
    "cuff" uses MDC_PRESS_CUFF_* codes, "noninv" MDC_PRESS_BLD_NONINV_*. ``enhanced`` sets
    MSH-15/16 to AL/NE as PCD-01 asks (commit ACK), else original-mode ACKs are requested.
    What some real monitors do: ``demo`` marks every OBX-8 "DEMO" (a monitor in demo mode);
    ``no_value`` is the "no value" number (-999; some send -100); ``second_spo2`` adds the
    SpO2 of a second oximeter channel (OBX-4 1.3.2)."""
    if nibp_family not in NIBP_FAMILIES:
        raise ValueError(f"nibp_family must be one of {sorted(NIBP_FAMILIES)}")
    codes = _ENCODE_CODES | NIBP_FAMILIES[nibp_family]
    stamp = format_dtm(time_s)
    filler = f"{control_id}^KATSIM^{SIM_DEVICE_EUI64}^EUI-64"
    segments = [
        f"MSH|^~\\&|{SIM_SENDER}|KATSIM|{ACK_SENDER}|{ACK_SENDER}|{stamp}||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.6|||{'AL|NE' if enhanced else '|'}||UNICODE UTF-8|||{PCD01_PROFILE}",
        "PID|||KATSIM-TEST-0001^^^KATSIM^PI||TEST^PATIENT^^^^^L",
        "PV1||I|DOSING^^1",
        f"OBR|1|{filler}|{filler}|182777000^monitoring of patient^SCT|||{stamp}",
        f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
        f"{SIM_DEVICE_EUI64}^EUI-64",
    ]
    observations = list(values.items())
    if second_spo2 is not None:
        observations.append((VitalKind.SPO2, second_spo2))
    seen: set[VitalKind] = set()
    for set_id, (kind, value) in enumerate(observations, start=2):
        code = codes.get(kind)
        if code is None:
            raise ValueError(f"{kind} cannot be sent as a PCD-01 numeric")
        channel = _VMD[kind] if kind not in seen else "1.3.2"  # the second SpO2 sensor
        seen.add(kind)
        nibp = kind in NIBP_KINDS
        fields = [""] * 19
        fields[0:7] = [
            "OBX",
            str(set_id),
            "NM",
            f"{code}^{_METRICS[code].ref_id}^MDC",
            f"{channel}.{code}",
            _format_value(value, no_value),
            _ENCODE_UNITS[_EXPECTED_UNIT[kind]],
        ]
        fields[8] = "DEMO" if demo else ""
        fields[11] = "R"
        fields[14] = format_dtm(nibp_time if nibp and nibp_time is not None else time_s)
        fields[17] = "^APERIODIC" if nibp else ""
        fields[18] = f"{SIM_DEVICE_EUI64}^EUI-64"
        segments.append("|".join(fields))
    return "\r".join(segments) + "\r"


FIRST_NIBP_AFTER_S = 3.0


class Hl7Emulator(Emulator):
    """A monitor gateway: one MLLP-framed ORU^R01 each second (HR, PR, SpO2, PI), the NIBP
    triple with its measurement time every ``nibp_interval_s``. ``state.sensor_off`` sends the
    oximeter's values as ``no_value`` (-999), ``state.demo`` marks them demo data;
    ``second_spo2_offset`` adds a second SpO2 channel reading that much off the first. Counts
    the ACKs it receives."""

    protocol = "hl7"

    def __init__(
        self,
        model: VitalsModel,
        start_time: float,
        *,
        nibp_interval_s: float = 180.0,
        nibp_family: str = "cuff",
        enhanced: bool = True,
        no_value: str = NO_VALUE,
        second_spo2_offset: float | None = None,
    ) -> None:
        super().__init__(model, start_time)
        self.model: VitalsModel = model
        self.nibp_interval_s = nibp_interval_s
        self.nibp_family = nibp_family
        self.enhanced = enhanced
        self.no_value = no_value
        self.second_spo2_offset = second_spo2_offset
        self.sent = 0
        self.acked = 0
        self.last_ack_code: str | None = None
        self.last_acked_id: str | None = None
        self._next_second = 0
        self._next_nibp_s = FIRST_NIBP_AFTER_S
        self._deframer = MllpDeframer()

    def advance(self, now: float) -> bytes:
        out = bytearray()
        while self.start_time + self._next_second <= now:
            elapsed = float(self._next_second)
            values: dict[VitalKind, float | None] = dict(self.model.numerics(elapsed))
            if self.state.sensor_off:
                for kind in (VitalKind.SPO2, VitalKind.PULSE_RATE, VitalKind.PERFUSION_INDEX):
                    values[kind] = None
            nibp_time = None
            if elapsed >= self._next_nibp_s:
                systolic, diastolic, mean = self.model.nibp(elapsed)
                values[VitalKind.NIBP_SYSTOLIC] = systolic
                values[VitalKind.NIBP_DIASTOLIC] = diastolic
                values[VitalKind.NIBP_MEAN] = mean
                nibp_time = self.start_time + self._next_nibp_s
                self._next_nibp_s += self.nibp_interval_s
            self.sent += 1
            message = build_oru(
                str(self.sent),
                self.start_time + elapsed,
                values,
                nibp_time=nibp_time,
                nibp_family=self.nibp_family,
                enhanced=self.enhanced,
                demo=self.state.demo,
                no_value=self.no_value,
                second_spo2=self._second_spo2(values.get(VitalKind.SPO2)),
            )
            out += mllp_frame(message)
            self._next_second += 1
        return bytes(out)

    def _second_spo2(self, first: float | None) -> float | None:
        if self.second_spo2_offset is None or first is None:
            return None
        return min(100.0, first + self.second_spo2_offset)

    def receive(self, data: bytes, now: float) -> bytes:
        for item in self._deframer.feed(data):
            if not isinstance(item, _Frame):
                continue
            try:
                msa = hl7.parse(item.data.decode("utf-8", errors="replace")).segment("MSA")
            except Exception:  # not an ACK: a real gateway would log and ignore it
                continue
            self.acked += 1
            self.last_ack_code = str(msa.extract_field(1, 1))
            self.last_acked_id = str(msa.extract_field(1, 2))
        return b""
