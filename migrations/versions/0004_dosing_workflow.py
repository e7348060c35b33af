"""The dosing-session workflow: structured assessments on observations, the client's weight on
dose events (mg/kg), and workflow events (identity check, eligibility, pre-dose gate, schedule
prompts completed, tablet swallowed/spat, discharge).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        batch.add_column(
            sa.Column("assessment", sa.Text(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("dose_events") as batch:
        batch.add_column(sa.Column("weight_kg", sa.Float(), nullable=True))
    op.create_table(
        "workflow_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_workflow_events_session_id_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_events")),
    )
    op.create_index(
        "ix_workflow_events_session_time", "workflow_events", ["session_id", "time"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_events_session_time", table_name="workflow_events")
    op.drop_table("workflow_events")
    with op.batch_alter_table("dose_events") as batch:
        batch.drop_column("weight_kg")
    with op.batch_alter_table("observations") as batch:
        batch.drop_column("assessment")
