"""judge call provenance: format, version, template, prompt hash and body, served model,
sampling settings, finish reason, absolute score

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("format", lambda: sa.String(length=40)),
    ("format_version", lambda: sa.String(length=120)),
    ("template", lambda: sa.String(length=60)),
    ("prompt_sha256", lambda: sa.String(length=64)),
    ("request", sa.Text),
    ("sampling", sa.Text),
    ("served_model", lambda: sa.String(length=300)),
    ("finish_reason", lambda: sa.String(length=40)),
    ("score", sa.Float),
)


def upgrade() -> None:
    with op.batch_alter_table("judge_calls", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("judge_calls", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
