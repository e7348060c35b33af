"""Reading and writing HL7 v2 message parts: DTM times, the MSH header in the sender's
encoding characters, OBX code and unit look-ups, and acknowledgements.

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
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import hl7

from devices.hl7_pcd01.constants import (
    _METRIC_BY_CODE_TEXT,
    _METRICS,
    _REF_IDS,
    _UNIT_BY_CODE_TEXT,
    _UNIT_CODES,
    _UNIT_NAMES,
    ACK_SENDER,
    ACK_VERSION,
    ERROR_TEXT,
    STANDARD_ENCODING,
    _Metric,
)

_NM = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_HEX_CODE = re.compile(r"([0-9A-Fa-f]{1,4})-([0-9A-Fa-f]{4})")
_DTM = re.compile(
    r"([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})"
    r"(?:([0-9]{2})(?:\.([0-9]{1,6}))?)?)?)?)?)?([+-][0-9]{4})?"
)


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
        offset: float = (hours * 3600 + minutes * 60) * (-1 if zone[0] == "-" else 1)
    else:
        offset = local_utc_offset_s
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0) - offset


def format_dtm(time_s: float) -> str:
    """UTC epoch seconds as an HL7 DTM in UTC with millisecond precision when needed."""
    millis = round(time_s * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    fraction = f".{millis % 1000:03d}" if millis % 1000 else ""
    return moment.strftime("%Y%m%d%H%M%S") + fraction + "+0000"


def _mdc_code(text: str) -> int | None:
    """A numeric MDC code ("150456") or the partition-term hex form ("0002-4bb8")."""
    if text.isascii() and text.isdigit() and len(text) <= 10:
        return int(text)
    match = _HEX_CODE.fullmatch(text)
    if match:
        return int(match.group(1), 16) * 65536 + int(match.group(2), 16)
    return None


def _lookup_metric(components: list[str]) -> _Metric | None:
    """The metric an OBX-3 names (see :func:`identify_metric`), ignoring disagreements."""
    return identify_metric(components, "")[0]


def identify_metric(components: list[str], obx4: str) -> tuple[_Metric | None, str]:
    """The metric an OBX names, and a note when its identifications disagree.

    Each identification is a vote: the code and the reference id of OBX-3's primary (1-2) and
    alternate (4-5) identifiers, and the metric code some senders end OBX-4 with
    ("1.2.1.150301"). Votes count by kind; the majority decides and a disagreement is noted.
    With no majority (one against one) the OBX is not used, and that is noted too."""
    usual = _METRIC_BY_CODE_TEXT.get(components[0])  # "150456": one look-up, the common case
    if (
        usual is not None
        and (len(components) < 2 or components[1] in ("", usual.ref_id))
        and len(components) <= 3
        and (obx4.endswith(components[0]) or _obx4_code(obx4) is None)
    ):
        return usual, ""
    votes: list[tuple[str, int]] = []
    for first in (0, 3):
        code_text = components[first].strip() if len(components) > first else ""
        code = _mdc_code(code_text) if code_text else None
        if code is not None:
            votes.append((f"code {code_text}", code))
        for name in (code_text, components[first + 1] if len(components) > first + 1 else ""):
            if name.strip() in _REF_IDS:
                votes.append((f"name {name.strip()}", _REF_IDS[name.strip()]))
    obx4_code = _obx4_code(obx4)
    if obx4_code is not None:
        votes.append((f"OBX-4 {obx4.strip()}", obx4_code))
    if not votes:
        return None, ""
    keys = [_vote_key(code) for _, code in votes]
    counts = {key: keys.count(key) for key in keys}
    winner = max(counts, key=lambda key: counts[key])
    if len(counts) == 1:
        return _METRICS.get(votes[0][1]), ""
    said = ", ".join(text for text, _ in votes)
    if counts[winner] * 2 <= len(votes):
        return None, f"OBX identifications disagree ({said}); not used"
    code = next(code for (_, code), key in zip(votes, keys, strict=True) if key == winner)
    metric = _METRICS.get(code)
    chosen = metric.ref_id if metric else str(code)
    return metric, f"OBX identifications disagree ({said}); the majority says {chosen}"


def _vote_key(code: int) -> object:
    metric = _METRICS.get(code)
    return metric.kind if metric is not None else code


def _obx4_code(obx4: str) -> int | None:
    """The MDC code ending OBX-4, when the sender puts one there (metric ids are small)."""
    last = obx4.rsplit(".", 1)[-1].strip()
    if last.isascii() and last.isdigit() and 5 <= len(last) <= 10 and int(last) >= 65536:
        return int(last)
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
    processing_id: str
    """MSH-11.1: P production, T training, D debugging."""

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
        value(11, 1).upper(),
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
