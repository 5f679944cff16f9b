"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("alias", sa.String(length=300), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("alias"),
    )
    op.create_table(
        "benchmark_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("benchmark", sa.String(length=100), nullable=False),
        sa.Column("subtask", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=True),
        sa.Column("normalized", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "benchmark", "subtask", name="uq_benchmark_score"),
    )
    with op.batch_alter_table("benchmark_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benchmark_scores_model"), ["model"], unique=False)

    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=200), nullable=True),
        sa.Column("license", sa.String(length=200), nullable=True),
        sa.Column("parameters_b", sa.Float(), nullable=True),
        sa.Column("precision", sa.String(length=40), nullable=True),
        sa.Column("base_model", sa.String(length=200), nullable=True),
        sa.Column("family", sa.String(length=100), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_name"), ["name"], unique=True)

    op.create_table(
        "popularity",
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("model"),
    )
    op.create_table(
        "prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("prompt_set", sa.String(length=100), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompts_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_prompts_key"), ["key"], unique=True)

    op.create_table(
        "raters",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("group", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "rating_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("rater_group", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rating_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rating_snapshots_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("tokens_per_second", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prompt_id", "model_id", name="uq_answer_prompt_model"),
    )
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answers_model_id"), ["model_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_answers_prompt_id"), ["prompt_id"], unique=False)

    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=True),
        sa.Column("left_model_id", sa.Integer(), nullable=False),
        sa.Column("right_model_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rater_id", sa.String(length=100), nullable=True),
        sa.Column("origin", sa.String(length=60), nullable=False),
        sa.Column("external_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["left_model_id"],
            ["models.id"],
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["right_model_id"],
            ["models.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_key"),
    )
    with op.batch_alter_table("battles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_battles_prompt_id"), ["prompt_id"], unique=False)

    op.create_table(
        "pair_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("rater_group", sa.String(length=100), nullable=False),
        sa.Column("left_model_id", sa.Integer(), nullable=False),
        sa.Column("right_model_id", sa.Integer(), nullable=False),
        sa.Column("left_wins", sa.BigInteger(), nullable=False),
        sa.Column("right_wins", sa.BigInteger(), nullable=False),
        sa.Column("ties", sa.BigInteger(), nullable=False),
        sa.Column("both_bad", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["left_model_id"],
            ["models.id"],
        ),
        sa.ForeignKeyConstraint(
            ["right_model_id"],
            ["models.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "category",
            "source",
            "rater_group",
            "left_model_id",
            "right_model_id",
            name="uq_pair_counts_key",
        ),
    )
    op.create_table(
        "judge_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("call_order", sa.String(length=2), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("raw_reply", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(length=10), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["battle_id"],
            ["battles.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("judge_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_judge_calls_battle_id"), ["battle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_judge_calls_judge"), ["judge"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=10), nullable=False),
        sa.Column("winner", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("rater_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["battle_id"],
            ["battles.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("battle_id"),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_votes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_votes_source"), ["source"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_votes_source"))
        batch_op.drop_index(batch_op.f("ix_votes_created_at"))

    op.drop_table("votes")
    with op.batch_alter_table("judge_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_judge_calls_judge"))
        batch_op.drop_index(batch_op.f("ix_judge_calls_battle_id"))

    op.drop_table("judge_calls")
    op.drop_table("pair_counts")
    with op.batch_alter_table("battles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_battles_prompt_id"))

    op.drop_table("battles")
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answers_prompt_id"))
        batch_op.drop_index(batch_op.f("ix_answers_model_id"))

    op.drop_table("answers")
    with op.batch_alter_table("rating_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rating_snapshots_created_at"))

    op.drop_table("rating_snapshots")
    op.drop_table("raters")
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompts_key"))
        batch_op.drop_index(batch_op.f("ix_prompts_category"))

    op.drop_table("prompts")
    op.drop_table("popularity")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_name"))

    op.drop_table("models")
    with op.batch_alter_table("benchmark_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benchmark_scores_model"))

    op.drop_table("benchmark_scores")
    op.drop_table("aliases")
