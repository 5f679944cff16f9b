"""model metadata for the composite rank (parameters, precision, architecture, licence, dates)

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_metadata",
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("organization", sa.String(length=200), nullable=True),
        sa.Column("parameters_b", sa.Float(), nullable=True),
        sa.Column("precision", sa.String(length=40), nullable=True),
        sa.Column("architecture", sa.String(length=200), nullable=True),
        sa.Column("license", sa.String(length=200), nullable=True),
        sa.Column("base_model", sa.String(length=300), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("upload_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("model"),
    )


def downgrade() -> None:
    op.drop_table("model_metadata")
