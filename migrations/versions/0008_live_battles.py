"""live battles: battle status and turns, votes after the reveal, the conversation

Revision ID: 0008_live_battles
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_live_battles"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Old battles keep status NULL (not live); identity_leak and turns get their defaults.
    with op.batch_alter_table("battles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("failure", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("identity_leak", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("turns", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("after_reveal", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "battle_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("finish_reason", sa.String(length=40), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("tokens_per_second", sa.Float(), nullable=True),
        sa.Column("settings", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("style_tokens", sa.Integer(), nullable=True),
        sa.Column("style_headers", sa.Integer(), nullable=True),
        sa.Column("style_lists", sa.Integer(), nullable=True),
        sa.Column("style_bold", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["battle_id"], ["battles.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("battle_id", "turn", "side", "attempt", name="uq_battle_message"),
    )
    with op.batch_alter_table("battle_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_battle_messages_battle_id"), ["battle_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("battle_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_battle_messages_battle_id"))
    op.drop_table("battle_messages")
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_column("after_reveal")
    with op.batch_alter_table("battles", schema=None) as batch_op:
        batch_op.drop_column("turns")
        batch_op.drop_column("identity_leak")
        batch_op.drop_column("failure")
        batch_op.drop_column("status")
