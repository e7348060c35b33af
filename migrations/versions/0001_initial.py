"""Initial schema: sessions, samples, waveform blocks, doses, observations, device events.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from the models: a migration must keep describing the
# schema of its own time when the models change later.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"], ["sessions.id"], name=op.f(f"fk_{table}_session_id_sessions")
    )


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("medicine", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("training", sa.Boolean(), nullable=False),
        sa.Column("devices", sa.Text(), nullable=False),
        sa.Column("workstation", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("uuid", name=op.f("uq_sessions_uuid")),
    )
    op.create_table(
        "samples",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=255), nullable=False),
        _session_fk("samples"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
    )
    op.create_index(
        "ix_samples_session_kind_time", "samples", ["session_id", "kind", "time"], unique=False
    )
    op.create_table(
        "waveform_blocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("start_time", sa.Float(), nullable=False),
        sa.Column("sample_rate_hz", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _session_fk("waveform_blocks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waveform_blocks")),
    )
    op.create_index(
        "ix_waveform_blocks_session_start",
        "waveform_blocks",
        ["session_id", "start_time"],
        unique=False,
    )
    op.create_table(
        "dose_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("medicine", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("given_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        _session_fk("dose_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_events")),
    )
    op.create_index(op.f("ix_dose_events_session_id"), "dose_events", ["session_id"], unique=False)
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        _session_fk("observations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index(
        op.f("ix_observations_session_id"), "observations", ["session_id"], unique=False
    )
    op.create_table(
        "device_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conditions", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _session_fk("device_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_events")),
    )
    op.create_index(
        op.f("ix_device_events_session_id"), "device_events", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_events_session_id"), table_name="device_events")
    op.drop_table("device_events")
    op.drop_index(op.f("ix_observations_session_id"), table_name="observations")
    op.drop_table("observations")
    op.drop_index(op.f("ix_dose_events_session_id"), table_name="dose_events")
    op.drop_table("dose_events")
    op.drop_index("ix_waveform_blocks_session_start", table_name="waveform_blocks")
    op.drop_table("waveform_blocks")
    op.drop_index("ix_samples_session_kind_time", table_name="samples")
    op.drop_table("samples")
    op.drop_table("sessions")
