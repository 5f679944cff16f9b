"""prune unvoted web battles: rows drawn for raters before battles were stored at vote time

Before 0.2.0 the battle page stored a battle row for every draw, voted or not, so a crawler
could fill the table. Since then a rater's battle is stored with its vote (the signed token
carries it; its ``external_key`` is ``web:<key>``). This removes what the old way left
behind: battles of origin ``web`` with no external key, no vote and no judge call. Voted
battles, imported, judge and live battles are untouched. There is nothing to restore on
downgrade (the rows held no vote).

Revision ID: 0011
Revises: 0008_live_battles
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011"
down_revision = "0008_live_battles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM battles WHERE origin = 'web' AND external_key IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM votes WHERE votes.battle_id = battles.id)"
        " AND NOT EXISTS (SELECT 1 FROM judge_calls WHERE judge_calls.battle_id = battles.id)"
    )


def downgrade() -> None:
    pass
