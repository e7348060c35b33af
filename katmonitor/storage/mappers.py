"""Rows to domain objects: the one place each kind of stored row becomes its dataclass."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from katmonitor.alarms.model import AlarmEvent, Priority
from katmonitor.assessments import Assessment
from katmonitor.base.samples import ConnectionState, DeviceStatus, Sample, WaveformBlock
from katmonitor.base.vitals import VitalKind
from katmonitor.records.addendum import Addendum, AddendumKind
from katmonitor.session import (
    DoseEvent,
    Observation,
    Route,
    Session,
    SessionStatus,
    WorkflowEvent,
    WorkflowKind,
)
from katmonitor.users import Role, User

Row = Mapping[Any, Any]
WAVEFORM_DTYPE = np.dtype("<f4")


def joined(words: Any) -> str:
    """Status words as stored: sorted, comma-joined."""
    return ",".join(sorted(words))


def words(text: str) -> frozenset[str]:
    return frozenset(text.split(",")) if text else frozenset()


def canonical_json(data: dict[str, Any]) -> str:
    """Canonical JSON (sorted keys, no spaces): stable bytes for the audit chain."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def session(row: Row) -> Session:
    return Session(
        id=row["id"],
        uuid=row["uuid"],
        client_id=row["client_id"],
        medicine=row["medicine"],
        route=Route(row["route"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        status=SessionStatus(row["status"]),
        training=bool(row["training"]),
        devices=tuple(row["devices"].split("\n")) if row["devices"] else (),
        workstation=row["workstation"],
    )


def dose(row: Row) -> DoseEvent:
    return DoseEvent(
        id=row["id"],
        session_id=row["session_id"],
        time=row["time"],
        medicine=row["medicine"],
        route=Route(row["route"]),
        dose_mg=row["dose_mg"],
        unit_count=row["unit_count"],
        lot=row["lot"],
        given_by=row["given_by"],
        recorded_at=row["recorded_at"],
        note=row["note"],
        weight_kg=row["weight_kg"],
    )


def observation(row: Row) -> Observation:
    return Observation(
        id=row["id"],
        session_id=row["session_id"],
        time=row["time"],
        text=row["text"],
        author=row["author"],
        recorded_at=row["recorded_at"],
        assessment=Assessment.from_dict(json.loads(row["assessment"] or "{}")),
    )


def workflow_event(row: Row) -> WorkflowEvent:
    return WorkflowEvent(
        id=row["id"],
        session_id=row["session_id"],
        time=row["time"],
        kind=WorkflowKind(row["kind"]),
        user=row["user"],
        data=json.loads(row["data"]),
        recorded_at=row["recorded_at"],
    )


def device_event(row: Row) -> DeviceStatus:
    return DeviceStatus(
        row["time"],
        row["source"],
        ConnectionState(row["state"]),
        words(row["conditions"]),
        row["message"],
    )


def alarm_event(row: Row) -> AlarmEvent:
    return AlarmEvent(
        row["time"],
        row["alarm_id"],
        row["kind"],
        Priority.parse(row["priority"]) if row["priority"] else None,
        row["event"],
        row["value"],
        row["limit"],
        row["message"],
        bool(row["technical"]),
        row["user"],
        row["reason"],
    )


def alarm_row(session_id: int, e: AlarmEvent) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "time": e.time,
        "alarm_id": e.alarm_id,
        "kind": e.kind,
        "priority": e.priority.label if e.priority is not None else None,
        "event": e.event,
        "value": e.value,
        "limit": e.limit,
        "message": e.message,
        "technical": e.technical,
        "user": e.user,
        "reason": e.reason,
    }


def sample(row: Row) -> Sample:
    return Sample(row["time"], row["source"], VitalKind(row["kind"]), row["value"],
                  words(row["status"]))


def block(row: Row) -> WaveformBlock:
    values = np.frombuffer(row["data"], dtype=WAVEFORM_DTYPE).astype(np.float32)
    return WaveformBlock(
        row["start_time"],
        row["sample_rate_hz"],
        row["source"],
        VitalKind(row["kind"]),
        values,
        words(row["status"]),
    )


def block_bytes(values: Any) -> bytes:
    """Waveform points as stored: little-endian float32."""
    return np.asarray(values).astype(WAVEFORM_DTYPE).tobytes()


def addendum(row: Row) -> Addendum:
    return Addendum(
        id=row["id"],
        session_id=row["session_id"],
        kind=AddendumKind(row["kind"]),
        text=row["text"],
        user=row["user_name"],
        printed_name=row["printed_name"],
        role=row["role"],
        created_at=row["created_at"],
        amends_signature_id=row["amends_signature_id"],
        amends_chain_head=row["amends_chain_head"],
        key_id=row["key_id"],
        signature=bytes(row["signature"]),
    )


def user(row: Row, key_id: int | None) -> User:
    return User(
        row["id"],
        row["name"],
        row["full_name"],
        Role(row["role"]),
        bool(row["disabled"]),
        row["created_at"],
        key_id,
        row["locked_until"],
    )


def signature(row: Row, session_uuid: str | None) -> dict[str, Any]:
    """A stored signature as the signed payload names its facts (see record_signing)."""
    return {
        "id": row["id"],
        "session_uuid": session_uuid,
        "chain_head": row["chain_head"],
        "entry_count": row["entry_count"],
        "record_digest": row["record_digest"],
        "user": row["user_name"],
        "printed_name": row["printed_name"],
        "role": row["role"],
        "meaning": row["meaning"],
        "signed_at": row["signed_at"],
        "key_id": row["key_id"],
        "signature": bytes(row["signature"]),
    }
