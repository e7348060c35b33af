"""The GE DRI decoder: framed records in, samples, sensor status and pleth out.

Decoding choices (documented here because the specification leaves them to the host):
- Only *displayed values* subrecords (type 1) of the *basic* class produce samples; the class is
  read from ``cl_drilvl_subt`` bits 8-11, never from the subrecord's position.
- A group is skipped when its status says the module does not exist (bit 0).
- HR is the monitor's displayed HR whatever its source; when the ECG status says the source is
  the pleth (bits 3-6 == 6) the sample carries ``source_pleth``, so consumers can tell that HR
  and PULSE_RATE are then the same measurement.
- NIBP is repeated in every record; it is emitted once per measurement and label state (keyed
  by the aux ``nibp_time`` when the record carries one, else by the values, and by the label's
  measuring bit), with ``device_time`` = the measurement time, so a 3-minute-old
  reading never looks fresh, and a reading first sent "measuring" is sent again when final.
- SpO2 has no probe-off bit. When the SpO2 module exists and is active but the SpO2 value is
  "invalid" or "not updated", we infer ``sensor_off`` (DecodedStatus), and clear it when a value
  returns. This is an inference, not a device flag.
"""

from __future__ import annotations

import struct
from typing import cast

import numpy as np

from devices.codec import (
    DecodedEvent,
    DecodedSample,
    DecodedStatus,
    DecodedWaveform,
    DecodeProblem,
    Decoder,
    append_plausible,
)
from devices.ge_dri.constants import (
    _CODE_REASONS,
    _GROUP_HEADER,
    _HEADER_AND_TABLE,
    _I16,
    _LAST_CODE,
    _NIBP_LABEL_WORDS,
    _NO_VALUE_REASONS,
    _PHDB_TAIL,
    _SR_FIELDS,
    _U32,
    _WF_HEADER,
    CLASS_BASIC,
    CLASS_DATA_SIZE,
    ECG_GROUP,
    ECG_HR,
    END_OF_LIST,
    HEADER_SIZE,
    HR_SOURCE_MASK,
    HR_SOURCE_PLETH,
    HR_SOURCE_SHIFT,
    MIN_DISPLAYED_INTERVAL_S,
    MT_PHDB,
    MT_WAVE,
    NIBP_DIA,
    NIBP_GROUP,
    NIBP_MEAN,
    NIBP_SYS,
    PH_AUX_INFO,
    PH_DISPLAYED,
    PHDB_SUBRECORD_SIZE,
    PLETH_RATE_HZ,
    SPO2_GROUP,
    SPO2_IR_AMP,
    SPO2_PULSE,
    SPO2_VALUE,
    STATUS_ACTIVE,
    STATUS_EXISTS,
    WF_PLETH,
    WF_STATUS_GAP,
    WF_STATUS_LEAD_OFF,
)
from devices.ge_dri.framing import Deframer
from devices.ge_dri.records import RecordHeader, parse_header, phdb_request, waveform_request
from katmonitor.base.vitals import VitalKind


def _sample(
    kind: VitalKind,
    block: bytes,
    at: int,
    scale: float,
    extra: frozenset[str],
    device_time: float | None,
    offset: int,
) -> DecodedSample:
    """The int16 at ``at`` in DRI units (value * scale); codes <= -32001 give value None."""
    (raw,) = _I16.unpack_from(block, at)
    if raw <= _LAST_CODE:
        reason = _CODE_REASONS.get(raw, "invalid")
        return DecodedSample(kind, None, extra | {reason}, device_time, offset)
    return DecodedSample(kind, raw / scale, extra, device_time, offset)


class GeDriDecoder(Decoder):
    protocol = "ge-dri"

    def __init__(self) -> None:
        super().__init__()
        self._deframer = Deframer()
        self._last_nibp: tuple[object, ...] | None = None
        self._sensor_off: bool | None = None  # None until the first SpO2 group says

    def requests_on_connect(self) -> bytes:
        # Basic class at the fastest displayed-values rate, then the pleth waveform.
        return phdb_request(PH_DISPLAYED, MIN_DISPLAYED_INTERVAL_S, 0) + waveform_request()

    def periodic_request(self) -> tuple[float, bytes] | None:
        # A monitor that restarted forgets requests; re-asking keeps (or resumes) the stream.
        return 60.0, self.requests_on_connect()

    def feed(self, chunk: bytes) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        pleth = _PlethBatch()
        counters = self.counters
        for offset, length, record, problem, bad in self._deframer._scan(chunk):
            if record is None:
                if bad:
                    counters.bad += 1
                events.append(DecodeProblem(offset, problem, length))
                continue
            counters.good += 1
            try:
                # Waveform records are most of the stream: straight to their decoder, with no
                # RecordHeader object (the deframer only passes records of >= 40 bytes).
                fields = _HEADER_AND_TABLE.unpack_from(record, 0)
                if fields[6] == MT_WAVE:
                    self._decode_wave(fields, record, offset, events, pleth)
                else:
                    events += self._decode_record(record, offset)
            except (ValueError, struct.error) as error:  # a well-framed but malformed record
                events.append(DecodeProblem(offset, f"malformed record: {error}", length))
        pleth.finish(events)
        self.offset += len(chunk)
        return events

    def _decode_record(self, record: bytes, offset: int) -> list[DecodedEvent]:
        header = parse_header(record)
        events: list[DecodedEvent] = []
        if header.maintype == MT_PHDB:
            events = self._decode_phdb(header, record[HEADER_SIZE:], offset)
        elif header.maintype == MT_WAVE:
            pleth = _PlethBatch()
            self._decode_wave(
                _HEADER_AND_TABLE.unpack_from(record, 0), record, offset, events, pleth
            )
            pleth.finish(events)
        return events  # other main types (alarms, network management): not used

    def _decode_phdb(self, header: RecordHeader, data: bytes, offset: int) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        nibp_time: int | None = None
        for sr_offset, sr_type in header.subrecords:
            if sr_type == PH_AUX_INFO:
                if 0 <= sr_offset <= len(data) - _U32.size:
                    nibp_time = _U32.unpack_from(data, sr_offset)[0] or None
                else:
                    events.append(DecodeProblem(offset, "aux subrecord outside the record"))
        for sr_offset, sr_type in header.subrecords:
            if sr_type != PH_DISPLAYED:
                continue  # trends are not requested; aux handled above
            if not 0 <= sr_offset <= len(data) - PHDB_SUBRECORD_SIZE:
                events.append(DecodeProblem(offset, "physiological subrecord outside the record"))
                continue
            sub = data[sr_offset : sr_offset + PHDB_SUBRECORD_SIZE]
            (sub_time,) = _U32.unpack_from(sub, 0)
            _marker, _reserved, cl_drilvl_subt = _PHDB_TAIL.unpack_from(sub, 4 + CLASS_DATA_SIZE)
            if (cl_drilvl_subt >> 8) & 0x0F != CLASS_BASIC:
                continue
            time = sub_time or header.r_time
            device_time = float(time) if time else None
            block = sub[4 : 4 + CLASS_DATA_SIZE]
            events.extend(self._decode_basic(block, device_time, nibp_time, offset))
        return events

    def _decode_basic(
        self, block: bytes, device_time: float | None, nibp_time: int | None, offset: int
    ) -> list[DecodedEvent]:
        events: list[DecodedEvent] = []
        none: frozenset[str] = frozenset()

        ecg_status, _ = _GROUP_HEADER.unpack_from(block, ECG_GROUP)
        if ecg_status & STATUS_EXISTS:
            source = (ecg_status >> HR_SOURCE_SHIFT) & HR_SOURCE_MASK
            words = frozenset({"source_pleth"}) if source == HR_SOURCE_PLETH else none
            append_plausible(
                events,
                _sample(VitalKind.HR, block, ECG_HR, 1, words, device_time, offset),
                self.protocol,
            )

        nibp_status, nibp_label = _GROUP_HEADER.unpack_from(block, NIBP_GROUP)
        words = frozenset(word for bit, word in _NIBP_LABEL_WORDS if nibp_label & bit)
        # "data older than 60 s" is no news about the reading: only "measuring" re-sends it.
        key = (nibp_time, *struct.unpack_from("<hhh", block, NIBP_SYS), "measuring" in words)
        if nibp_status & STATUS_EXISTS and key != self._last_nibp:
            # Once per measurement and state, not once per record: a reading first sent while
            # "measuring" is sent again when that bit clears, so the final reading is final.
            self._last_nibp = key
            when = float(nibp_time) if nibp_time else device_time
            for kind, at in (
                (VitalKind.NIBP_SYSTOLIC, NIBP_SYS),
                (VitalKind.NIBP_DIASTOLIC, NIBP_DIA),
                (VitalKind.NIBP_MEAN, NIBP_MEAN),
            ):
                append_plausible(
                    events, _sample(kind, block, at, 100, words, when, offset), self.protocol
                )

        spo2_status, _ = _GROUP_HEADER.unpack_from(block, SPO2_GROUP)
        if spo2_status & STATUS_EXISTS:
            spo2 = _sample(VitalKind.SPO2, block, SPO2_VALUE, 100, none, device_time, offset)
            if spo2_status & STATUS_ACTIVE:
                off = spo2.value is None and bool(spo2.status & _NO_VALUE_REASONS)
                if off != self._sensor_off:
                    self._sensor_off = off
                    conditions = frozenset({"sensor_off"}) if off else none
                    message = "SpO2 has no value: probe off (inferred)" if off else ""
                    events.append(DecodedStatus(conditions, message, device_time, offset))
            append_plausible(events, spo2, self.protocol)
            for kind, at, scale in (
                (VitalKind.PULSE_RATE, SPO2_PULSE, 1),
                (VitalKind.PERFUSION_INDEX, SPO2_IR_AMP, 100),
            ):
                append_plausible(
                    events,
                    _sample(kind, block, at, scale, none, device_time, offset),
                    self.protocol,
                )
        return events

    def _decode_wave(
        self,
        fields: tuple[int, ...],
        record: bytes,
        offset: int,
        events: list[DecodedEvent],
        pleth: _PlethBatch,
    ) -> None:
        """The pleth subrecords of a waveform record, whose header unpacked (with
        _HEADER_AND_TABLE) to ``fields``: problems go to ``events`` now, waveforms to
        ``pleth``, which puts them in ``events`` when it is finished."""
        r_time = fields[4]
        device_time = float(r_time) if r_time else None
        data_size = len(record) - HEADER_SIZE  # sr_offset counts from the data area
        for index in _SR_FIELDS:
            sr_type = fields[index + 1]
            if sr_type == END_OF_LIST:
                break
            if sr_type != WF_PLETH:
                continue
            sr_offset = fields[index]
            if not 0 <= sr_offset <= data_size - _WF_HEADER.size:
                events.append(DecodeProblem(offset, "waveform subrecord outside the record"))
                continue
            count, status, _label = _WF_HEADER.unpack_from(record, HEADER_SIZE + sr_offset)
            start = sr_offset + _WF_HEADER.size
            if count < 0 or start + 2 * count > data_size:
                events.append(DecodeProblem(offset, f"waveform of {count} samples overruns"))
                continue
            start += HEADER_SIZE
            pleth.samples.append(record[start : start + 2 * count])
            pleth.pending.append(
                (len(events), count, _WAVE_STATUS[status & _WAVE_BITS], device_time, offset)
            )
            events.append(_PENDING)


class _PlethBatch:
    """The pleth subrecords of one chunk, turned into values with one numpy call rather than
    two per 25-sample record (numpy's per-call cost is most of the work on arrays this small).
    Each one holds a place in the events until :meth:`finish` puts its DecodedWaveform there.
    """

    __slots__ = ("pending", "samples")

    def __init__(self) -> None:
        self.samples: list[bytes] = []  # each subrecord's int16 samples, as sent
        self.pending: list[tuple[int, int, frozenset[str], float | None, int]] = []
        """(index in the events, sample count, status, device_time, offset) per subrecord."""

    def finish(self, events: list[DecodedEvent]) -> None:
        if not self.pending:
            return
        values = _PLETH_VALUES.take(np.frombuffer(b"".join(self.samples), dtype="<u2"))
        start = 0
        for index, count, status, device_time, offset in self.pending:
            end = start + count
            events[index] = DecodedWaveform(
                _PLETH,
                PLETH_RATE_HZ,
                values[start:end].copy(),  # each waveform owns its array, as if made alone
                status,
                device_time,
                offset,
            )
            start = end


_PENDING = cast("DecodedEvent", None)  # an event's place, until _PlethBatch.finish fills it
_PLETH = VitalKind.PLETH


def _pleth_values() -> np.ndarray:
    """The pleth value of every int16 sample, indexed by its bit pattern: 1/100 %, codes
    (<= -32001) as NaN. One lookup (take) replaces scaling, then masking where codes were."""
    samples = np.arange(1 << 16, dtype=np.uint16).view(np.int16)
    values = samples * np.float32(0.01)  # the same float32 arithmetic, done once for all
    values[samples <= _LAST_CODE] = np.nan
    values.flags.writeable = False
    return values


_PLETH_VALUES = _pleth_values()
_WAVE_BITS = WF_STATUS_GAP | WF_STATUS_LEAD_OFF
_WAVE_STATUS = {
    bits: frozenset(
        word
        for bit, word in ((WF_STATUS_GAP, "gap"), (WF_STATUS_LEAD_OFF, "lead_off"))
        if bits & bit
    )
    for bits in range(_WAVE_BITS + 1)
    if bits & ~_WAVE_BITS == 0
}
