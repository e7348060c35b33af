"""Signed addenda: corrections and notes added to a signed session record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "addenda",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("printed_name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("amends_signature_id", sa.Integer(), nullable=False),
        sa.Column("amends_chain_head", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_addenda_session_id_sessions")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_addenda_user_id_users")),
        sa.ForeignKeyConstraint(
            ["amends_signature_id"],
            ["signatures.id"],
            name=op.f("fk_addenda_amends_signature_id_signatures"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["user_keys.id"], name=op.f("fk_addenda_key_id_user_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addenda")),
    )
    op.create_index(op.f("ix_addenda_session_id"), "addenda", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_addenda_session_id"), table_name="addenda")
    op.drop_table("addenda")
