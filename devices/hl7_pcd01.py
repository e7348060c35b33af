"""HL7 v2 ORU^R01 as profiled by IHE PCD-01, over MLLP: decoder, encoder and gateway emulator.

Decoding (``Hl7Decoder``)
  * MLLP frames are 0x0B + message + 0x1C 0x0D. The frame ends at 0x1C; the trailing 0x0D (and
    any CR/LF a sender adds between frames) is skipped silently, other bytes between frames are
    reported once per run as a DecodeProblem at the run's first non-blank byte. A start block
    inside a frame means the sender restarted: the partial frame is reported and dropped.
    ``mllp=False`` reads a raw capture instead: CR- or LF-separated lines, a new message at each
    line starting with "MSH"; the last message is only known complete at ``flush()``.
  * Parsing: segments are split with ``str.split`` on the message's own separators (MSH-1/2);
    escape sequences, when a segment has any, are resolved by the ``hl7`` library, which also
    escapes the ACK text. ``hl7.parse`` itself builds a container per field and managed ~540
    messages/s on the development machine, ten times short of the 5,000/s goal, so it is only
    used off the hot path (the emulator reading ACKs, the tests checking what we send).
  * Codes: an OBX is identified by the IEEE 11073 (MDC) code in OBX-3.1, whatever coding system
    OBX-3.3 names; only when OBX-3.1 holds no code, by the MDC reference id ("MDC_..."); then the
    alternate identifier (OBX-3.4/3.5) the same way. Philips' "0002-4bb8" (partition-term, hex)
    form is read as 2 * 65536 + 0x4bb8. NIBP comes as MDC_PRESS_CUFF_* (150301-3) or
    MDC_PRESS_BLD_NONINV_* (150021-3).
  * Pulse rate has four sources, best first: oximeter (149530), generic MDC_PULS_RATE (149514),
    invasive line (149522, MDC_BLD_PULS_RATE_INV) and NIBP (149546, MDC_PULS_RATE_NON_INV). The
    decoder keeps only the best source it has seen on this stream (sticky): the NIBP cuff's
    pulse, measured once per cycle, would otherwise interleave stale points with the oximeter's
    live ones. It is used as PULSE_RATE only while nothing better has been seen.
  * Values: OBX-2 must be NM. "-999", empty or non-numeric values, result status X/N, or an
    OBX-8 null flavour (NAV, OFF, ...) give value None with status "no_value" (PINF/NINF give
    over_range/under_range). Result status D/W (deleted/wrong) are skipped. OBX-8 11073
    measurement states map to questionable/invalid/not_calibrated/measuring.
    Units (OBX-6) must match the kind: bpm, %, mmHg; kPa is converted to mmHg; a missing unit is
    taken as the expected one; any other unit rejects the OBX with a DecodeProblem.
  * Time: OBX-14, else the OBR-7 of its group, else MSH-7. DTM with optional fraction and
    +/-HHMM offset; a time without offset is taken as UTC shifted by ``local_utc_offset_s``
    (default 0, i.e. UTC: the decoder reads no clock, so cannot guess the sender's zone). NIBP
    whose observation time is more than 60 s before MSH-7 gets status "data_old".
  * Waveforms (NA-typed pleth) are ignored: PCD-01 carries their sample rate in separate OBXs.

Acknowledgement (one Reply per message, MLLP mode only; a capture has no peer to answer)
  * Original mode (MSH-15 empty): AA for a readable ORU^R01 (also when it holds no observation
    KAT Monitor charts: a gateway forwards every device); AE (reason in MSA-3 and an ERR segment)
    for a parsed message we cannot use: not ORU^R01, or every known OBX rejected; AR for a
    message whose header cannot be parsed, when an MSH-10 can still be found. No ACK at all
    when there is no control id to acknowledge.
  * Enhanced mode (MSH-15 set): the same outcome as a commit ACK, CA/CE/CR, sent as MSH-15 asks:
    AL (or an unknown value) always, NE never, ER only on error, SU only on success. MSH-16
    (application ACK) is not honoured: KAT Monitor only consumes the data.
  * Deterministic, as the codec reads no clock: the ACK's MSH-7 echoes the message's MSH-7 and
    its MSH-10 is "ACK" + the message's MSH-10. MSH-4/5/6 echo the message's MSH-6/3/4, MSH-11
    echoes the processing id (default P); the version is 2.6.

Counters: ``good`` counts messages with a readable header (AA or AE: the link is fine even if the
content is of no use to us), ``bad`` counts unreadable messages, truncated or oversized frames
and runs of junk between frames - the link-quality measure the driver alarms on.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import hl7

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodeProblem,
    Decoder,
    Emulator,
    Reply,
)
from katmonitor.base.vitals import NIBP_KINDS, VitalKind

if TYPE_CHECKING:
    from devices.simulated import VitalsModel

START_BLOCK = 0x0B
END_BLOCK = 0x1C
MLLP_TRAILER = b"\x1c\r"
MAX_FRAME_BYTES = 1 << 20
"""A PCD-01 message is a few kB; anything larger is a desynchronised stream."""

STANDARD_ENCODING = "^~\\&"
ACK_SENDER = "KATMONITOR"
ACK_VERSION = "2.6"
NO_VALUE = "-999"
OBX_FIELDS = 20  # OBX-0 (the name) to OBX-19
NIBP_DATA_OLD_S = 60.0
KPA_TO_MMHG = 760.0 / 101.325

# --- IEEE 11073-10101 nomenclature --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Metric:
    kind: VitalKind
    ref_id: str
    pulse_rank: int = 0
    """For pulse-rate sources: lower is better (see the module docstring)."""


_METRICS: dict[int, _Metric] = {
    147842: _Metric(VitalKind.HR, "MDC_ECG_HEART_RATE"),
    149530: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_OXIM_PULS_RATE", 1),
    149514: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_RATE", 2),
    149522: _Metric(VitalKind.PULSE_RATE, "MDC_BLD_PULS_RATE_INV", 3),
    149546: _Metric(VitalKind.PULSE_RATE, "MDC_PULS_RATE_NON_INV", 4),
    150456: _Metric(VitalKind.SPO2, "MDC_PULS_OXIM_SAT_O2"),
    150488: _Metric(VitalKind.PERFUSION_INDEX, "MDC_PULS_OXIM_PERF_REL"),
    150301: _Metric(VitalKind.NIBP_SYSTOLIC, "MDC_PRESS_CUFF_SYS"),
    150302: _Metric(VitalKind.NIBP_DIASTOLIC, "MDC_PRESS_CUFF_DIA"),
    150303: _Metric(VitalKind.NIBP_MEAN, "MDC_PRESS_CUFF_MEAN"),
    150021: _Metric(VitalKind.NIBP_SYSTOLIC, "MDC_PRESS_BLD_NONINV_SYS"),
    150022: _Metric(VitalKind.NIBP_DIASTOLIC, "MDC_PRESS_BLD_NONINV_DIA"),
    150023: _Metric(VitalKind.NIBP_MEAN, "MDC_PRESS_BLD_NONINV_MEAN"),
    150452: _Metric(VitalKind.PLETH, "MDC_PULS_OXIM_PLETH"),
}
_REF_IDS: dict[str, int] = {m.ref_id: code for code, m in _METRICS.items()}
_REF_IDS["MDC_ECG_CARD_BEAT_RATE"] = 147842  # the newer reference id for the same code
_METRIC_BY_CODE_TEXT: dict[str, _Metric] = {str(code): m for code, m in _METRICS.items()}

# Codes the encoder uses per kind; NIBP per family.
_ENCODE_CODES: dict[VitalKind, int] = {
    VitalKind.HR: 147842,
    VitalKind.PULSE_RATE: 149530,
    VitalKind.SPO2: 150456,
    VitalKind.PERFUSION_INDEX: 150488,
}
NIBP_FAMILIES: dict[str, dict[VitalKind, int]] = {
    "cuff": {VitalKind.NIBP_SYSTOLIC: 150301, VitalKind.NIBP_DIASTOLIC: 150302,
             VitalKind.NIBP_MEAN: 150303},
    "noninv": {VitalKind.NIBP_SYSTOLIC: 150021, VitalKind.NIBP_DIASTOLIC: 150022,
               VitalKind.NIBP_MEAN: 150023},
}  # fmt: skip
# MDS.VMD.Channel prefix of OBX-4 per kind (ECG VMD 1, NIBP VMD 2, pulse oximeter VMD 3).
_VMD: dict[VitalKind, str] = {
    VitalKind.HR: "1.1.1",
    VitalKind.NIBP_SYSTOLIC: "1.2.1",
    VitalKind.NIBP_DIASTOLIC: "1.2.1",
    VitalKind.NIBP_MEAN: "1.2.1",
    VitalKind.PULSE_RATE: "1.3.1",
    VitalKind.SPO2: "1.3.1",
    VitalKind.PERFUSION_INDEX: "1.3.1",
}

# Units: MDC codes (partition 4) and the names senders use (MDC reference ids, UCUM, plain).
_UNIT_CODES: dict[int, str] = {264864: "bpm", 262688: "%", 266016: "mmHg", 265987: "kPa"}
_UNIT_BY_CODE_TEXT: dict[str, str] = {str(code): unit for code, unit in _UNIT_CODES.items()}
_UNIT_NAMES: dict[str, str] = {
    "mdc_dim_beat_per_min": "bpm", "bpm": "bpm", "/min": "bpm", "1/min": "bpm",
    "{beat}/min": "bpm", "{beats}/min": "bpm",
    "mdc_dim_percent": "%", "%": "%",
    "mdc_dim_mmhg": "mmHg", "mmhg": "mmHg", "mm[hg]": "mmHg",
    "mdc_dim_kilo_pascal": "kPa", "kpa": "kPa",
}  # fmt: skip
_ENCODE_UNITS: dict[str, str] = {
    "bpm": "264864^MDC_DIM_BEAT_PER_MIN^MDC",
    "%": "262688^MDC_DIM_PERCENT^MDC",
    "mmHg": "266016^MDC_DIM_MMHG^MDC",
}
_EXPECTED_UNIT: dict[VitalKind, str] = {
    VitalKind.HR: "bpm",
    VitalKind.PULSE_RATE: "bpm",
    VitalKind.SPO2: "%",
    VitalKind.PERFUSION_INDEX: "%",
    VitalKind.NIBP_SYSTOLIC: "mmHg",
    VitalKind.NIBP_DIASTOLIC: "mmHg",
    VitalKind.NIBP_MEAN: "mmHg",
}

# OBX-8: IHE PCD null flavours and IEEE 11073 measurement states (matched case-insensitively).
_FLAG_STATUS: dict[str, str] = {
    "ni": "no_value", "na": "no_value", "nav": "no_value", "off": "no_value",
    "msk": "no_value", "oth": "no_value", "nan": "no_value", "not-available": "no_value",
    "pinf": "over_range", "ninf": "under_range",
    "invalid": "invalid", "questionable": "questionable", "early-indication": "questionable",
    "test-data": "questionable", "demo-data": "questionable",
    "calibration-ongoing": "not_calibrated", "msmt-ongoing": "measuring",
}  # fmt: skip
_VALUELESS = frozenset({"no_value", "over_range", "under_range"})

# HL7 table 0357 (message error condition codes) used in ERR-3.
ERROR_TEXT: dict[int, str] = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
}

_NM = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_HEX_CODE = re.compile(r"([0-9A-Fa-f]{1,4})-([0-9A-Fa-f]{4})")
_DTM = re.compile(
    r"([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})"
    r"(?:([0-9]{2})(?:\.([0-9]{1,6}))?)?)?)?)?)?([+-][0-9]{4})?"
)
_EOL = re.compile(rb"[\r\n]")
_ESCAPER = hl7.Message()  # standard separators; used to escape text we put into an ACK


# --- small pure helpers ------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)  # a message repeats its timestamps in every OBX
def parse_dtm(text: str, local_utc_offset_s: float = 0.0) -> float | None:
    """HL7 DTM/TS ("YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-HHMM]", precision component ignored)
    to UTC epoch seconds; None when empty or malformed. Without an offset the time is taken as
    local time ``local_utc_offset_s`` east of UTC (default: UTC)."""
    match = _DTM.fullmatch(text.split("^", 1)[0].strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone:
        hours, minutes = int(zone[1:3]), int(zone[3:5])
        if hours > 14 or minutes > 59:
            return None
        offset = (hours * 3600 + minutes * 60) * (-1 if zone[0] == "-" else 1)
    else:
        offset = local_utc_offset_s
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0) - offset


def format_dtm(time_s: float) -> str:
    """UTC epoch seconds as an HL7 DTM in UTC with millisecond precision when needed."""
    millis = round(time_s * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    fraction = f".{millis % 1000:03d}" if millis % 1000 else ""
    return moment.strftime("%Y%m%d%H%M%S") + fraction + "+0000"


def mllp_frame(message: str) -> bytes:
    """One MLLP frame: start block, the message (UTF-8), end block and CR."""
    return b"\x0b" + message.encode("utf-8") + MLLP_TRAILER


def _mdc_code(text: str) -> int | None:
    """A numeric MDC code ("150456") or the partition-term hex form ("0002-4bb8")."""
    if text.isascii() and text.isdigit() and len(text) <= 10:
        return int(text)
    match = _HEX_CODE.fullmatch(text)
    if match:
        return int(match.group(1), 16) * 65536 + int(match.group(2), 16)
    return None


def _lookup_metric(components: list[str]) -> _Metric | None:
    """The metric an OBX-3 names: the code decides when there is one, else the reference id;
    the primary identifier (components 1-2) first, then the alternate one (4-5)."""
    usual = _METRIC_BY_CODE_TEXT.get(components[0])  # "150456": one look-up, the common case
    if usual is not None:
        return usual
    for first in (0, 3):
        code_text = components[first].strip() if len(components) > first else ""
        code = _mdc_code(code_text)
        if code is not None:
            metric = _METRICS.get(code)
        else:
            names = (code_text, components[first + 1] if len(components) > first + 1 else "")
            metric = next(
                (_METRICS[_REF_IDS[n.strip()]] for n in names if n.strip() in _REF_IDS), None
            )
        if metric is not None:
            return metric
    return None


def _unit_of(components: list[str]) -> str | None:
    """Our unit name for OBX-6, "" when absent, None when not one we know."""
    usual = _UNIT_BY_CODE_TEXT.get(components[0])
    if usual is not None:
        return usual
    code_text = components[0].strip()
    code = _mdc_code(code_text)
    if code is not None:
        return _UNIT_CODES.get(code)
    for name in (code_text, components[1] if len(components) > 1 else ""):
        unit = _UNIT_NAMES.get(name.strip().lower())
        if unit is not None:
            return unit
    return "" if not any(c.strip() for c in components) else None


def _escape(text: str) -> str:
    """Text for an ACK field, escaped for the standard separators, on one line."""
    return _ESCAPER.escape(" ".join(text.split()))


def _to_standard(raw: str, encoding: str) -> str:
    """A raw field in the sender's encoding characters, rewritten in the standard ones."""
    if encoding == STANDARD_ENCODING:
        return raw
    out = []
    for char in raw:
        position = encoding.find(char)
        if position >= 0:
            out.append(STANDARD_ENCODING[position])
        elif char in STANDARD_ENCODING or char == "|":
            out.append(_ESCAPER.escape(char))  # a literal that is a separator for us
        else:
            out.append(char)
    return "".join(out)


# --- the message header ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    field_sep: str
    encoding: str
    """The sender's component, repetition, escape and sub-component characters."""
    raw: list[str]
    """MSH fields rewritten in the standard encoding: raw[n] is MSH-n (raw[0] unused)."""
    message_code: str
    trigger: str
    control_id: str
    accept_ack: str
    time_s: float | None

    def field(self, number: int) -> str:
        return self.raw[number] if number < len(self.raw) else ""

    def unescape(self, text: str) -> str:
        """``text`` with HL7 escape sequences resolved by the hl7 library (the rare case)."""
        if self.encoding[2] not in text:
            return text
        separators = "\r" + self.field_sep + self.encoding[1] + self.encoding[0] + self.encoding[3]
        try:
            return str(hl7.Message(separators=separators, esc=self.encoding[2]).unescape(text))
        except Exception:  # a malformed escape: keep the text as sent
            return text


def _read_header(segment: str, local_utc_offset_s: float = 0.0) -> _Header | None:
    """The MSH segment's fields, or None when ``segment`` is not a usable MSH."""
    if len(segment) < 8 or not segment.startswith("MSH") or segment[3].isalnum():
        return None
    field_sep = segment[3]
    parts = segment.split(field_sep)
    sent = parts[1][:4]
    encoding = sent + STANDARD_ENCODING[len(sent) :]
    if not sent or field_sep in encoding or len(set(encoding)) != 4:
        return None
    raw = ["", field_sep, STANDARD_ENCODING] + [_to_standard(p, encoding) for p in parts[2:]]

    def value(number: int, component: int) -> str:
        text = _component(raw, number, component)
        return _unescape_standard(text).strip()

    return _Header(
        field_sep,
        encoding,
        raw,
        value(9, 1),
        value(9, 2),
        value(10, 1),
        value(15, 1).upper(),
        parse_dtm(raw[7], local_utc_offset_s) if len(raw) > 7 else None,
    )


def _unescape_standard(text: str) -> str:
    if "\\" not in text:
        return text
    try:
        return str(_ESCAPER.unescape(text))
    except Exception:  # a malformed escape: keep the text as sent
        return text


def _component(raw: list[str], field: int, component: int) -> str:
    if field >= len(raw):
        return ""
    components = raw[field].split("~", 1)[0].split("^")
    return components[component - 1] if component <= len(components) else ""


def _ack_text(header: _Header, code: str, reason: str, error_code: int | None) -> str:
    trigger = _component(header.raw, 9, 2)
    msh = [
        "MSH",
        STANDARD_ENCODING,
        ACK_SENDER,
        header.field(6),  # our facility is the one the message was sent to
        header.field(3),
        header.field(4),
        header.field(7),  # echo MSH-7: the codec reads no clock
        "",
        f"ACK^{trigger}^ACK",
        "ACK" + header.field(10),
        header.field(11) or "P",
        ACK_VERSION,
    ]
    msa = ["MSA", code, header.field(10)]
    segments = ["|".join(msh)]
    if reason:
        msa.append(_escape(reason))  # MSA-3: deprecated, but what most senders log
    segments.append("|".join(msa))
    if code not in ("AA", "CA"):
        error = error_code if error_code in ERROR_TEXT else 207
        text = ERROR_TEXT.get(error, "Application internal error")
        segments.append(f"ERR|||{error}^{text}^HL70357|E||||{_escape(reason)}")
    return "\r".join(segments) + "\r"


def _ack_for(header: _Header, accepted: str, reason: str, error_code: int | None) -> str | None:
    """The ACK for an outcome ("A" accept, "E" error, "R" reject) in the sender's ACK mode,
    or None when the sender asked for none."""
    mode = header.accept_ack
    if not mode:
        return _ack_text(header, "A" + accepted, reason, error_code)
    if mode == "NE" or (mode == "ER" and accepted == "A") or (mode == "SU" and accepted != "A"):
        return None
    return _ack_text(header, "C" + accepted, reason, error_code)


def build_ack(message: str, code: str, reason: str = "", *, error_code: int | None = None) -> str:
    """An ACK with MSA-1 ``code`` (AA/AE/AR/CA/CE/CR) for ``message`` (its text; only the MSH
    is read, so it may be otherwise malformed). ``reason`` goes into MSA-3 and, for anything
    but AA/CA, into an ERR segment with HL7 table 0357 ``error_code`` (default 207).
    Raises ValueError when the message has no MSH with a control id."""
    text = message.replace("\r\n", "\r").replace("\n", "\r")
    segment = next((s for s in text.split("\r") if s.startswith("MSH")), "")
    header = _read_header(segment)
    if header is None or not header.control_id:
        raise ValueError("no MSH-10 message control id to acknowledge")
    return _ack_text(header, code, reason, error_code)


# --- encoder -------------------------------------------------------------------------------

SIM_DEVICE_EUI64 = "0123456789ABCDEF"
SIM_SENDER = f"KATSIM^{SIM_DEVICE_EUI64}^EUI-64"
PCD01_PROFILE = "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"


def _format_value(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return NO_VALUE
    return f"{value:.4f}".rstrip("0").rstrip(".")


def build_oru(
    control_id: str,
    time_s: float,
    values: dict[VitalKind, float | None],
    *,
    nibp_time: float | None = None,
    nibp_family: str = "cuff",
    enhanced: bool = True,
) -> str:
    """A PCD-01 ORU^R01 as a monitor gateway sends it: MSH, PID (a test patient), PV1, OBR,
    the MDS OBX, then one OBX per value (None is sent as -999). NIBP OBXs carry ``nibp_time``
    (default ``time_s``) as their observation time and ^APERIODIC as method; ``nibp_family``
    "cuff" uses MDC_PRESS_CUFF_* codes, "noninv" MDC_PRESS_BLD_NONINV_*. ``enhanced`` sets
    MSH-15/16 to AL/NE as PCD-01 asks (commit ACK), else original-mode ACKs are requested."""
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
    for set_id, (kind, value) in enumerate(values.items(), start=2):
        code = codes.get(kind)
        if code is None:
            raise ValueError(f"{kind} cannot be sent as a PCD-01 numeric")
        nibp = kind in NIBP_KINDS
        fields = [""] * 19
        fields[0:7] = [
            "OBX",
            str(set_id),
            "NM",
            f"{code}^{_METRICS[code].ref_id}^MDC",
            f"{_VMD[kind]}.{code}",
            _format_value(value),
            _ENCODE_UNITS[_EXPECTED_UNIT[kind]],
        ]
        fields[11] = "R"
        fields[14] = format_dtm(nibp_time if nibp and nibp_time is not None else time_s)
        fields[17] = "^APERIODIC" if nibp else ""
        fields[18] = f"{SIM_DEVICE_EUI64}^EUI-64"
        segments.append("|".join(fields))
    return "\r".join(segments) + "\r"


# --- framing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Frame:
    offset: int
    data: bytes


class _JunkRun:
    """Bytes skipped between messages, reported once per run from its first non-blank byte."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.end = 0

    def skip(self, offset: int, data: bytes) -> None:
        if self.first is None:
            visible = data.lstrip(b" \t\r\n")
            if visible:
                self.first = offset + len(data) - len(visible)
        self.end = offset + len(data)

    def report(self, out: list[_Frame | DecodeProblem], what: str) -> None:
        if self.first is not None:
            length = self.end - self.first
            out.append(DecodeProblem(self.first, f"skipped {length} bytes {what}", length))
            self.first = None


class MllpDeframer:
    """Cuts an MLLP byte stream, split anywhere, into frames; reports what it skips."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.offset = 0
        self._junk = _JunkRun()
        self._frame_start: int | None = None  # stream offset of the open frame's start block
        self._buffer = bytearray()
        self._oversized = False

    def feed(self, chunk: bytes) -> list[_Frame | DecodeProblem]:
        out: list[_Frame | DecodeProblem] = []
        base, i, n = self.offset, 0, len(chunk)
        self.offset += n
        while i < n:
            if self._frame_start is None:
                start = chunk.find(START_BLOCK, i)
                if start < 0:
                    self._junk.skip(base + i, chunk[i:])
                    break
                if start > i:
                    self._junk.skip(base + i, chunk[i:start])
                self._junk.report(out, "between frames")
                self._frame_start, self._oversized = base + start, False
                self._buffer.clear()
                i = start + 1
                continue
            end = chunk.find(END_BLOCK, i)
            restart = chunk.find(START_BLOCK, i, end if end >= 0 else n)
            if restart >= 0:  # the sender started over: drop the unfinished frame
                length = base + restart - self._frame_start
                out.append(
                    DecodeProblem(self._frame_start, "frame cut short by a new frame", length)
                )
                self._frame_start = None
                i = restart
                continue
            self._append(chunk[i : end if end >= 0 else n])
            if end < 0:
                break
            if self._oversized:
                length = base + end + 1 - self._frame_start
                out.append(DecodeProblem(self._frame_start, f"frame of {length} bytes", length))
            else:
                out.append(_Frame(self._frame_start, bytes(self._buffer)))
            self._frame_start = None
            i = end + 1
        return out

    def _append(self, data: bytes) -> None:
        if not self._oversized:
            self._buffer += data
            if len(self._buffer) > self.max_frame_bytes:
                self._oversized = True  # keep counting its length, stop storing it
                self._buffer.clear()

    def flush(self) -> list[_Frame | DecodeProblem]:
        """End of stream: report an unfinished frame and trailing junk."""
        out: list[_Frame | DecodeProblem] = []
        if self._frame_start is not None:
            length = self.offset - self._frame_start
            out.append(DecodeProblem(self._frame_start, "unfinished frame at end", length))
            self._frame_start = None
        self._junk.report(out, "at end")
        return out


class LineSplitter:
    """Cuts a raw capture (CR- or LF-separated segments, no MLLP) into messages, a new one at
    each line starting with "MSH". A message is complete when the next begins, or at flush."""

    def __init__(self) -> None:
        self.offset = 0
        self._junk = _JunkRun()
        self._line = bytearray()
        self._line_start: int | None = None
        self._message: list[bytes] = []
        self._message_start: int | None = None

    def feed(self, chunk: bytes) -> list[_Frame | DecodeProblem]:
        out: list[_Frame | DecodeProblem] = []
        base, i = self.offset, 0
        self.offset += len(chunk)
        while i < len(chunk):
            eol = _EOL.search(chunk, i)
            stop = eol.start() if eol else len(chunk)
            if self._line_start is None:
                self._line_start = base + i
            self._line += chunk[i:stop]
            if eol is None:
                break
            self._end_line(out)
            i = stop + 1
        return out

    def _end_line(self, out: list[_Frame | DecodeProblem]) -> None:
        line, start = bytes(self._line), self._line_start or 0
        self._line.clear()
        self._line_start = None
        if not line.strip():
            return
        if line.startswith(b"MSH"):
            self._emit(out)
            self._junk.report(out, "before a message header")
            self._message, self._message_start = [line], start
        elif self._message_start is not None:
            self._message.append(line)
        else:
            self._junk.skip(start, line)

    def _emit(self, out: list[_Frame | DecodeProblem]) -> None:
        if self._message_start is not None:
            out.append(_Frame(self._message_start, b"\r".join(self._message)))
            self._message, self._message_start = [], None

    def flush(self) -> list[_Frame | DecodeProblem]:
        out: list[_Frame | DecodeProblem] = []
        if self._line_start is not None:
            self._end_line(out)
        self._emit(out)
        self._junk.report(out, "at end")
        return out


# --- decoder -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Outcome:
    events: list[DecodedEvent]
    accepted: str  # "A" accept, "E" error, "R" reject
    reason: str = ""
    error_code: int | None = None


class Hl7Decoder(Decoder):
    """PCD-01 ORU^R01 messages in, samples and ACK replies out (see the module docstring)."""

    protocol = "hl7"

    def __init__(self, *, mllp: bool = True, local_utc_offset_s: float = 0.0) -> None:
        super().__init__()
        self.mllp = mllp
        self.local_utc_offset_s = local_utc_offset_s
        self._framer: MllpDeframer | LineSplitter = MllpDeframer() if mllp else LineSplitter()
        self._best_pulse_rank: int | None = None
        self.last_ack: str | None = None
        """The text of the last ACK produced (for logs and tests)."""

    def feed(self, chunk: bytes) -> list[DecodedEvent]:
        self.offset += len(chunk)
        return self._handle(self._framer.feed(bytes(chunk)))

    def flush(self) -> list[DecodedEvent]:
        """End of stream: the last message of a raw capture, and any unfinished frame."""
        return self._handle(self._framer.flush())

    def _handle(self, items: list[_Frame | DecodeProblem]) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        for item in items:
            if isinstance(item, DecodeProblem):
                self.counters.bad += 1
                events.append(item)
            else:
                events.extend(self._message(item))
        return events

    def _message(self, frame: _Frame) -> list[DecodedEvent]:
        text = frame.data.decode("utf-8", errors="replace")
        segments = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s]
        first = segments[0].lstrip() if segments else ""
        header = _read_header(first, self.local_utc_offset_s)
        if header is None or not header.message_code or not header.control_id:
            self.counters.bad += 1
            problem = "no readable MSH segment" if header is None else "MSH-9/MSH-10 missing"
            events: list[DecodedEvent] = [DecodeProblem(frame.offset, problem, len(frame.data))]
            # Reject it if a control id can still be found: a header later in the frame.
            found = header or next(
                (h for s in segments[1:] if (h := _read_header(s.lstrip())) is not None), None
            )
            if found is not None and found.control_id:
                events += self._reply(found, _Outcome([], "R", problem, 101))
            return events
        self.counters.good += 1
        try:
            outcome = self._content(frame.offset, header, segments)
        except Exception as error:  # never let one odd message stop the stream
            outcome = _Outcome([], "E", f"cannot read message: {error}", 207)
        if outcome.accepted != "A":
            where = f"message {header.control_id}"
            outcome.events.append(DecodeProblem(frame.offset, f"{where}: {outcome.reason}"))
        return outcome.events + self._reply(header, outcome)

    def _reply(self, header: _Header, outcome: _Outcome) -> list[DecodedEvent]:
        ack = _ack_for(header, outcome.accepted, outcome.reason, outcome.error_code)
        if ack is None:
            return []
        self.last_ack = ack
        return [Reply(mllp_frame(ack))] if self.mllp else []

    def _content(self, offset: int, header: _Header, segments: list[str]) -> _Outcome:
        kind_of_message = f"{header.message_code}^{header.trigger}"
        if header.message_code != "ORU":
            return _Outcome([], "E", f"unsupported message type {kind_of_message}", 200)
        if header.trigger != "R01":
            return _Outcome([], "E", f"unsupported event {kind_of_message}", 201)
        samples: list[tuple[int, DecodedSample]] = []
        problems: list[str] = []
        group_time: float | None = None
        for segment in segments[1:]:
            fields = segment.split(header.field_sep)
            if fields[0] == "OBR":
                group_time = parse_dtm(_get(fields, 7), self.local_utc_offset_s)
            elif fields[0] == "OBX":
                fields += [""] * (OBX_FIELDS - len(fields))  # absent trailing fields are empty
                escaped = header.encoding[2] in segment
                result = self._observation(fields, header, group_time, offset, escaped)
                if isinstance(result, str):
                    problems.append(result)
                elif result is not None:
                    samples.append(result)
        events: list[DecodedEvent] = list(self._best_pulse(samples))
        events += [DecodeProblem(offset, f"message {header.control_id}: {p}") for p in problems]
        if samples:
            return _Outcome(events, "A")
        if problems:
            return _Outcome(events, "E", "; ".join(problems), 102)
        # A gateway forwards every bedside device; refusing data we merely do not chart (e.g. a
        # temperature) would make some gateways hold and retry their queue, delaying vitals.
        return _Outcome(events, "A")

    def _best_pulse(self, samples: list[tuple[int, DecodedSample]]) -> list[DecodedSample]:
        """Drop pulse rates from a worse source than the best seen on this stream."""
        ranks = [rank for rank, _ in samples if rank]
        if ranks:
            best = min(ranks)
            if self._best_pulse_rank is None or best < self._best_pulse_rank:
                self._best_pulse_rank = best
        return [s for rank, s in samples if not rank or rank == self._best_pulse_rank]

    def _observation(
        self,
        obx: list[str],
        header: _Header,
        group_time: float | None,
        offset: int,
        escaped: bool,
    ) -> tuple[int, DecodedSample] | str | None:
        """One OBX (obx[n] is OBX-n): (pulse rank, sample), why it was rejected, or None to
        ignore it. ``escaped``: the segment holds escape sequences to resolve."""
        comp, rep = header.encoding[0], header.encoding[1]

        def components(raw: str) -> list[str]:
            parts = raw.split(comp)
            return [header.unescape(p) for p in parts] if escaped else parts

        metric = _lookup_metric(components(obx[3]))
        result_status = obx[11].strip().upper()
        if metric is None or metric.kind == VitalKind.PLETH or result_status in ("D", "W"):
            return None
        kind = metric.kind
        status: set[str] = set()
        if obx[8]:
            for flag in obx[8].split(rep):
                word = _FLAG_STATUS.get(flag.strip().lower())
                if word:
                    status.add(word)
        observed = parse_dtm(obx[14], self.local_utc_offset_s)
        device_time = observed if observed is not None else group_time
        if device_time is None:
            device_time = header.time_s
        if (
            kind in NIBP_KINDS
            and device_time is not None
            and header.time_s is not None
            and header.time_s - device_time > NIBP_DATA_OLD_S
        ):
            status.add("data_old")
        raw = obx[5].split(rep, 1)[0]
        raw = (header.unescape(raw) if escaped else raw).strip()
        value: float | None = None
        value_type = obx[2].strip().upper()
        if result_status in ("X", "N") or not raw or status & _VALUELESS:
            pass
        elif value_type != "NM":
            return f"OBX {obx[1]} ({kind}): value type {value_type or 'missing'}, expected NM"
        elif _NM.fullmatch(raw) and float(raw) != -999.0:
            unit = _unit_of(components(obx[6]))
            expected = _EXPECTED_UNIT[kind]
            if unit in ("", expected):
                value = float(raw)
            elif unit == "kPa" and expected == "mmHg":
                value = round(float(raw) * KPA_TO_MMHG, 1)
            else:
                return f"OBX {obx[1]} ({kind}): unit {obx[6]!r}, expected {expected}"
        if value is None and not status & _VALUELESS:
            status.add("no_value")
        sample = DecodedSample(kind, value, frozenset(status), device_time, offset)
        return metric.pulse_rank, sample


def _get(fields: list[str], number: int) -> str:
    """Field ``number`` of a split non-MSH segment (fields[0] is the segment name)."""
    return fields[number] if number < len(fields) else ""


# --- emulator ------------------------------------------------------------------------------

FIRST_NIBP_AFTER_S = 3.0


class Hl7Emulator(Emulator):
    """A monitor gateway: one MLLP-framed ORU^R01 each second (HR, PR, SpO2, PI), the NIBP
    triple with its measurement time every ``nibp_interval_s``. ``state.sensor_off`` sends the
    oximeter's values as -999. Counts the ACKs it receives."""

    protocol = "hl7"

    def __init__(
        self,
        model: VitalsModel,
        start_time: float,
        *,
        nibp_interval_s: float = 180.0,
        nibp_family: str = "cuff",
        enhanced: bool = True,
    ) -> None:
        super().__init__(model, start_time)
        self.model: VitalsModel = model
        self.nibp_interval_s = nibp_interval_s
        self.nibp_family = nibp_family
        self.enhanced = enhanced
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
            )
            out += mllp_frame(message)
            self._next_second += 1
        return bytes(out)

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
