"""The database schema as SQLAlchemy 2.0 typed ORM models.

Times are UTC epoch seconds in Float columns, never DateTime: SQLite drops the time zone of a
DateTime, and one float compares, sorts and indexes the same on SQLite and PostgreSQL. Only
generic types are used, so the same schema runs on both.

Any change here needs a new migration in ``migrations/versions`` (tests/core/test_migrations.py
fails when the migrations and these models disagree).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints: Alembic's batch mode (how SQLite alters tables) must be able to find a
# constraint by name to drop or recreate it.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A BIGINT primary key is not a rowid alias in SQLite and would not autoincrement there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


metadata = Base.metadata


class SessionRecord(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    medicine: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # active | interrupted | ended
    training: Mapped[bool] = mapped_column(Boolean)
    devices: Mapped[str] = mapped_column(Text)  # device spec strings, newline-joined
    workstation: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)


class SampleRecord(Base):
    __tablename__ = "samples"
    # Also serves as the index of the foreign key (session_id is its first column).
    __table_args__ = (Index("ix_samples_session_kind_time", "session_id", "kind", "time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    time: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(255))  # sorted status words, comma-joined


class WaveformBlockRecord(Base):
    __tablename__ = "waveform_blocks"
    __table_args__ = (Index("ix_waveform_blocks_session_start", "session_id", "start_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    source: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    start_time: Mapped[float] = mapped_column(Float)
    sample_rate_hz: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32 points


class DoseEventRecord(Base):
    __tablename__ = "dose_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    time: Mapped[float] = mapped_column(Float)
    medicine: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[float] = mapped_column(Float)
    unit_count: Mapped[int] = mapped_column(Integer)
    lot: Mapped[str] = mapped_column(String(64))
    given_by: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[float] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)  # IM/IV mg/kg dosing


class ObservationRecord(Base):
    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    time: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[float] = mapped_column(Float)
    # MOAA/S, CADSS, nausea, anxiety, respiratory status, therapist present: canonical JSON.
    assessment: Mapped[str] = mapped_column(Text, server_default="{}")


class WorkflowEventRecord(Base):
    """A step of the dosing workflow: identity check, eligibility answers, the pre-dose gate
    (passed or overridden with a reason), a schedule prompt completed, a tablet swallowed or
    spat, the discharge checklist. ``data`` is canonical JSON (see katmonitor/workflow.py)."""

    __tablename__ = "workflow_events"
    __table_args__ = (Index("ix_workflow_events_session_time", "session_id", "time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    time: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[float] = mapped_column(Float)


class DeviceEventRecord(Base):
    __tablename__ = "device_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    time: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    conditions: Mapped[str] = mapped_column(String(255))  # sorted words, comma-joined
    message: Mapped[str] = mapped_column(Text)


class AlarmEventRecord(Base):
    """The alarm record: onsets, escalations, acknowledgements, pauses, limit changes, ends."""

    __tablename__ = "alarm_events"
    __table_args__ = (Index("ix_alarm_events_session_time", "session_id", "time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    time: Mapped[float] = mapped_column(Float)
    alarm_id: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(8), nullable=True)
    event: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    technical: Mapped[bool] = mapped_column(Boolean)
    user: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)


class UserRecord(Base):
    """A person who signs in: nurse, therapist, administrator or trainee."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))  # the printed name on signatures
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)
    # Lockout (see katmonitor/accounts.py): failed credential checks in the current window,
    # when the first of them happened, and until when the account is locked.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    locked_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class UserKeyRecord(Base):
    """A user's Ed25519 signing keys. Retired keys keep their public half (old signatures still
    verify) and lose the private half (an administrator's password reset cannot recover it)."""

    __tablename__ = "user_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # raw 32 bytes
    # salt + nonce + AES-256-GCM ciphertext of the raw private key; NULL once retired.
    encrypted_private_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    retired_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuditEntryRecord(Base):
    """The hash-chained audit log of a signed session (one row per event or sample minute)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_session_seq", "session_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # table name, or "samples" for a minute digest
    row_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entry: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SignatureRecord(Base):
    """A signature over a session's canonical record (Ed25519, see record_signing.py)."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(128))
    printed_name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    meaning: Mapped[str] = mapped_column(String(255))
    signed_at: Mapped[float] = mapped_column(Float)
    key_id: Mapped[int] = mapped_column(ForeignKey("user_keys.id"))
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # 64 bytes
    chain_head: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    record_digest: Mapped[str] = mapped_column(String(64))


class AddendumRecord(Base):
    """A correction or note added to a signed session, signed by its author (see addenda.py)."""

    __tablename__ = "addenda"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # correction | note
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(128))
    printed_name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    # The signature it amends and the chain head that signature covers.
    amends_signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))
    amends_chain_head: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int] = mapped_column(ForeignKey("user_keys.id"))
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # Ed25519, 64 bytes


class AccessLogRecord(Base):
    """Who did what and when (sign-in, lock, account change, signature, export...): one
    hash-chained log for the whole database (see katmonitor/access_log.py)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    workstation: Mapped[str] = mapped_column(String(128))
    entry: Mapped[str] = mapped_column(Text)  # canonical JSON of the fields above
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class RecordingLeaseRecord(Base):
    """Which process is recording a session, and when it last said it was alive (see
    katmonitor/recovery.py): a session whose recorder is gone is found and marked interrupted."""

    __tablename__ = "recording_leases"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)


def _table(record: type[Base]) -> Table:
    """A model's table, typed as the Table it is (for Core statements)."""
    table = record.__table__
    assert isinstance(table, Table)
    return table


# The tables, for SQLAlchemy Core statements (storage's modules use these, never the models).
SESSIONS = _table(SessionRecord)
SAMPLES = _table(SampleRecord)
BLOCKS = _table(WaveformBlockRecord)
DOSES = _table(DoseEventRecord)
OBSERVATIONS = _table(ObservationRecord)
WORKFLOW_EVENTS = _table(WorkflowEventRecord)
DEVICE_EVENTS = _table(DeviceEventRecord)
ALARM_EVENTS = _table(AlarmEventRecord)
USERS = _table(UserRecord)
USER_KEYS = _table(UserKeyRecord)
AUDIT_ENTRIES = _table(AuditEntryRecord)
SIGNATURES = _table(SignatureRecord)
ADDENDA = _table(AddendumRecord)
ACCESS_LOG = _table(AccessLogRecord)
RECORDING_LEASES = _table(RecordingLeaseRecord)
