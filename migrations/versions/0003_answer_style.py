"""answer style counts (tokens, headers, lists, bold) for style control

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("style_tokens", "style_headers", "style_lists", "style_bold")


def upgrade() -> None:
    # Existing answers keep NULL: they are counted on the first style-controlled rating
    # (arena.style_store.fill_missing), so the migration does not parse every answer.
    with op.batch_alter_table("answers", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
