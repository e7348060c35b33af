"""The HL7 PCD-01 decoder: ORU^R01 messages in, samples and ACK replies out.

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
  * Values: OBX-2 must be NM. "-999" (or -100, -9999), empty or non-numeric values, result
    status X/N, or an OBX-8 null flavour (NAV, OFF, ...) give value None with status
    "no_value" (PINF/NINF give over_range/under_range). Result status D/W (deleted/wrong) are
    skipped. OBX-8 11073 measurement states map to questionable/invalid/not_calibrated/
    measuring; OBX-8 DEMO/D/demo-data/test-data, OBX-11 T and MSH-11 T/D to "demo". A value
    outside the plausible range (katmonitor/base/plausibility.py) is "invalid" and reported.
  * Identification by vote: OBX-3's code and reference id, its alternate ones and an MDC code
    ending OBX-4 vote by kind; the majority decides and a disagreement is reported (a
    DecodeProblem that does not change the ACK). A continuous kind from a second
    MDS.VMD.Channel (OBX-4) carries that channel, so a second SpO2 is its own source.
    Units (OBX-6) must match the kind: bpm, %, mmHg; kPa is converted to mmHg; a missing unit is
    taken as the expected one; any other unit rejects the OBX with a DecodeProblem.
  * Time: OBX-14, else the OBR-7 of its group, else MSH-7. DTM with optional fraction and
    +/-HHMM offset; a time without offset is taken as UTC shifted by ``local_utc_offset_s``
    (default 0, i.e. UTC: the decoder reads no clock, so cannot guess the sender's zone). NIBP
    whose observation time is more than 60 s before MSH-7 gets status "data_old".
  * Waveforms (NA-typed pleth) are ignored: PCD-01 carries their sample rate in separate OBXs.


Counters: ``good`` counts messages with a readable header (AA or AE: the link is fine even if the
content is of no use to us), ``bad`` counts unreadable messages, truncated or oversized frames
and runs of junk between frames - the link-quality measure the driver alarms on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodeProblem,
    Decoder,
    Reply,
)
from devices.hl7_pcd01.constants import (
    _EXPECTED_UNIT,
    _FLAG_STATUS,
    _VALUELESS,
    DEMO_PROCESSING_IDS,
    DEMO_RESULT_STATUS,
    KPA_TO_MMHG,
    NIBP_DATA_OLD_S,
    NO_VALUE_SENTINELS,
    OBX_FIELDS,
    _Metric,
)
from devices.hl7_pcd01.framing import LineSplitter, MllpDeframer, _Frame, mllp_frame
from devices.hl7_pcd01.messages import (
    _NM,
    _ack_for,
    _Header,
    _read_header,
    _unit_of,
    identify_metric,
    parse_dtm,
)
from katmonitor.base.plausibility import DEMO, INVALID, implausibility
from katmonitor.base.vitals import NIBP_KINDS, VitalKind

_CHANNEL = re.compile(r"([0-9]{1,5}\.[0-9]{1,5}\.[0-9]{1,5})(?:\.[0-9]{1,10})?\Z")
"""OBX-4 "MDS.VMD.Channel[.Metric]": the MDS.VMD.Channel part."""


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
        # Channels per metric (its reference id): the first OBX-4 channel, the channel of each
        # OBX-4 seen, and other channels seen once.
        self._first_channel: dict[str, str] = {}
        self._channels: dict[tuple[str, str], str] = {}
        self._candidates: set[tuple[str, str]] = set()
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
        notes: list[str] = []
        group_time: float | None = None
        for segment in segments[1:]:
            fields = segment.split(header.field_sep)
            if fields[0] == "OBR":
                group_time = parse_dtm(_get(fields, 7), self.local_utc_offset_s)
            elif fields[0] == "OBX":
                fields += [""] * (OBX_FIELDS - len(fields))  # absent trailing fields are empty
                escaped = header.encoding[2] in segment
                result = self._observation(fields, header, group_time, offset, escaped, notes)
                if isinstance(result, str):
                    problems.append(result)
                elif result is not None:
                    samples.append(result)
        events: list[DecodedEvent] = list(self._best_pulse(samples))
        events += [
            DecodeProblem(offset, f"message {header.control_id}: {p}") for p in problems + notes
        ]
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
        notes: list[str],
    ) -> tuple[int, DecodedSample] | str | None:
        """One OBX (obx[n] is OBX-n): (pulse rank, sample), why it was rejected, or None to
        ignore it. ``escaped``: the segment holds escape sequences to resolve. Disagreements
        and implausible values are added to ``notes`` (reported, but no reason to refuse)."""
        comp, rep = header.encoding[0], header.encoding[1]

        def components(raw: str) -> list[str]:
            parts = raw.split(comp)
            return [header.unescape(p) for p in parts] if escaped else parts

        metric, note = identify_metric(components(obx[3]), obx[4])
        if note:
            notes.append(f"OBX {obx[1]}: {note}")
        result_status = obx[11].strip().upper()
        if metric is None or metric.kind == VitalKind.PLETH or result_status in ("D", "W"):
            return None
        kind = metric.kind
        status: set[str] = set()
        if result_status in DEMO_RESULT_STATUS or header.processing_id in DEMO_PROCESSING_IDS:
            status.add(DEMO)
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
        elif _NM.fullmatch(raw) and float(raw) not in NO_VALUE_SENTINELS:
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
        why = implausibility(kind, value, self.protocol)
        if why is not None:
            notes.append(f"OBX {obx[1]}: {why}")
            value = None
            status.add(INVALID)
        channel = self._channel(metric, obx[4])
        if channel is None:
            notes.append(f"OBX {obx[1]}: {kind} from a new channel {obx[4]!r}: used from its next")
            return None
        sample = DecodedSample(kind, value, frozenset(status), device_time, offset, channel)
        return metric.pulse_rank, sample

    def _channel(self, metric: _Metric, obx4: str) -> str | None:
        """"" for the first MDS.VMD.Channel (OBX-4) seen reporting a continuous metric on this
        stream, the channel's own name for any other (a second SpO2 sensor is its own source).
        None the first time another channel appears: a damaged OBX-4 must not create a source,
        so a new channel counts from its second observation."""
        if metric.kind in NIBP_KINDS:
            return ""  # readings, not streams: two cuffs' readings do not interleave
        name = metric.ref_id
        known = self._channels.get((name, obx4))
        if known is not None:
            return known
        match = _CHANNEL.match(obx4.strip())
        if match is None:
            return ""  # none, or not the MDS.VMD.Channel.Metric form: the usual channel
        channel = match.group(1)
        first = self._first_channel.setdefault(name, channel)
        named = "" if channel == first or not channel else channel
        if named and (name, named) not in self._candidates:
            if len(self._candidates) < 256:  # a few channels; never grows with odd input
                self._candidates.add((name, named))
            return None
        if len(self._channels) < 256:
            self._channels[name, obx4] = named
        return named


def _get(fields: list[str], number: int) -> str:
    """Field ``number`` of a split non-MSH segment (fields[0] is the segment name)."""
    return fields[number] if number < len(fields) else ""
