"""The store's tables (SQLModel).

The schema is created and changed only by Alembic (``migrations/``); these
classes are the single description both the code and the migrations follow.

Positions are stored as shown: a battle records which model was on the left
and which on the right, and a vote records the choice as ``left``/``right``,
so position bias can be measured later. ``pair_counts`` keeps per (scope,
left, right) vote counts up to date as votes are stored, so a recompute reads
O(pairs) rows however many votes there are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Boolean, Column, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

CHOICES = ("left", "right", "tie", "both_bad")
MODEL_STATES = ("active", "provisional", "retired")
#: A live battle's status: "open" while its answers stream, "ready" to vote on, "failed"
#: (a side could not answer: ``failure`` says why), "voted". NULL for other battles.
BATTLE_STATUSES = ("open", "ready", "failed", "voted")
MESSAGE_SIDES = ("user", "left", "right")
MESSAGE_STATUSES = ("streaming", "done", "error")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(SQLModel, table=True):
    __tablename__ = "models"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    license: str | None = Field(default=None, max_length=200)
    parameters_b: float | None = None  # billions of parameters
    precision: str | None = Field(default=None, max_length=40)  # bf16, int4, ...
    base_model: str | None = Field(default=None, max_length=200)
    family: str | None = Field(default=None, max_length=100)  # judges skip own family
    release_date: date | None = None
    state: str = Field(default="active", max_length=20)


class Prompt(SQLModel, table=True):
    __tablename__ = "prompts"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=200)  # external id, import key
    text: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(default="general", index=True, max_length=100)
    prompt_set: str = Field(default="default", max_length=100)
    reference: str | None = Field(default=None, sa_column=Column(Text))


class Answer(SQLModel, table=True):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("prompt_id", "model_id", name="uq_answer_prompt_model"),)

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompts.id", index=True)
    model_id: int = Field(foreign_key="models.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    tokens: int | None = None
    latency_ms: float | None = None
    tokens_per_second: float | None = None
    # Style counts of the text (rating.style_features; filled when the answer is stored,
    # or on the first style-controlled rating for answers stored before): tokens by the
    # tokenizer-free rule, Markdown headers, list items, bold spans.
    style_tokens: int | None = None
    style_headers: int | None = None
    style_lists: int | None = None
    style_bold: int | None = None


class Rater(SQLModel, table=True):
    __tablename__ = "raters"

    id: str = Field(primary_key=True, max_length=100)  # anonymous id
    label: str | None = Field(default=None, max_length=200)
    group: str | None = Field(default=None, max_length=100)  # e.g. expertise, language
    created_at: datetime = Field(default_factory=utcnow)


class Battle(SQLModel, table=True):
    __tablename__ = "battles"

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int | None = Field(default=None, foreign_key="prompts.id", index=True)
    left_model_id: int = Field(foreign_key="models.id")
    right_model_id: int = Field(foreign_key="models.id")
    issued_at: datetime = Field(default_factory=utcnow)
    rater_id: str | None = Field(default=None, max_length=100)
    origin: str = Field(default="web", max_length=60)  # web, judge:<name>, import:<name>
    sampler: str | None = Field(default=None, max_length=60)  # the pair policy that drew it
    # Set for imported battles ("llmfao:crowd:17"), judge jobs' battles
    # ("judge:NAME:<rq job id>") and battles drawn for raters ("web:<token key>", stored
    # with their vote), so a repeated import, a retried job or a vote run twice finds its
    # battle.
    external_key: str | None = Field(default=None, unique=True, max_length=200)
    # Live battles (migration 0008): their status (BATTLE_STATUSES; NULL for other battles),
    # why one failed, whether an answer gave a model's identity away, and how many turns.
    status: str | None = Field(default=None, max_length=20)
    failure: str | None = Field(default=None, sa_column=Column(Text))
    identity_leak: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, default=False, server_default=false()),
    )
    turns: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Vote(SQLModel, table=True):
    __tablename__ = "votes"

    id: int | None = Field(default=None, primary_key=True)
    battle_id: int = Field(foreign_key="battles.id", unique=True)
    choice: str = Field(max_length=10)  # left | right | tie | both_bad
    winner: str = Field(max_length=200)  # model name, or "tie" / "both_bad"
    source: str = Field(default="human", index=True, max_length=100)  # human | judge:<name>
    rater_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # Cast after the models' names were shown (imported data can say so): stored, but not
    # counted in pair_counts, so default ratings leave it out (arena rate --include-leaked).
    after_reveal: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, default=False, server_default=false()),
    )


class BattleMessage(SQLModel, table=True):
    """One message of a live battle's conversation: the user's turn, or one side's answer.

    Regenerating a turn adds answers with the next ``attempt``; only the highest attempt
    of a turn counts. ``settings`` holds the exact generation settings used (JSON).
    """

    __tablename__ = "battle_messages"
    __table_args__ = (
        UniqueConstraint("battle_id", "turn", "side", "attempt", name="uq_battle_message"),
    )

    id: int | None = Field(default=None, primary_key=True)
    battle_id: int = Field(foreign_key="battles.id", index=True)
    turn: int  # 1-based
    side: str = Field(max_length=10)  # user | left | right
    attempt: int = 0
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="done", max_length=20)  # streaming | done | error
    finish_reason: str | None = Field(default=None, max_length=40)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    tokens_per_second: float | None = None
    settings: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    # Style counts of a finished answer, as for answers (rating.style_features).
    style_tokens: int | None = None
    style_headers: int | None = None
    style_lists: int | None = None
    style_bold: int | None = None


class PairCount(SQLModel, table=True):
    """Votes aggregated by scope and shown position; kept current by the vote job."""

    __tablename__ = "pair_counts"
    __table_args__ = (
        UniqueConstraint(
            "category",
            "source",
            "rater_group",
            "left_model_id",
            "right_model_id",
            name="uq_pair_counts_key",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=100)
    source: str = Field(max_length=100)
    rater_group: str = Field(default="", max_length=100)
    left_model_id: int = Field(foreign_key="models.id")
    right_model_id: int = Field(foreign_key="models.id")
    left_wins: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    right_wins: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    ties: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    both_bad: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class RatingSnapshot(SQLModel, table=True):
    """A computed leaderboard, stored so pages never compute on request."""

    __tablename__ = "rating_snapshots"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    method: str = Field(max_length=20)
    category: str = Field(default="", max_length=100)  # "" = all
    source: str = Field(default="", max_length=100)  # "" = all
    rater_group: str = Field(default="", max_length=100)
    digest: str = Field(max_length=80)
    votes: int = 0
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the result as JSON


class JudgeCall(SQLModel, table=True):
    """One call to a judge model for one battle in one order."""

    __tablename__ = "judge_calls"

    id: int | None = Field(default=None, primary_key=True)
    judge: str = Field(index=True, max_length=100)
    battle_id: int = Field(foreign_key="battles.id", index=True)
    call_order: str = Field(max_length=2)  # "ab": left answer shown first; "ba": swapped
    attempt: int = 1
    raw_reply: str | None = Field(default=None, sa_column=Column(Text))
    verdict: str | None = Field(default=None, max_length=10)  # first | second | tie
    confidence: float | None = None  # e.g. JudgeLM's score gap
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    truncated: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    # provenance (migration 0004): what exactly was asked, and what answered
    format: str | None = Field(default=None, max_length=40)  # e.g. prometheus, mtbench
    format_version: str | None = Field(default=None, max_length=120)  # upstream repo@commit
    template: str | None = Field(default=None, max_length=60)  # e.g. pair-math-v1
    prompt_sha256: str | None = Field(default=None, max_length=64)  # of the rendered prompt
    request: str | None = Field(default=None, sa_column=Column(Text))  # the body, as sent
    sampling: str | None = Field(default=None, sa_column=Column(Text))  # JSON: temperature, seed..
    served_model: str | None = Field(default=None, max_length=300)  # as the server reported it
    finish_reason: str | None = Field(default=None, max_length=40)
    score: float | None = None  # an absolute format's grade (prometheus-absolute: 1-5)


class BenchmarkScore(SQLModel, table=True):
    __tablename__ = "benchmark_scores"
    __table_args__ = (UniqueConstraint("model", "benchmark", "subtask", name="uq_benchmark_score"),)

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(index=True, max_length=300)
    benchmark: str = Field(max_length=100)
    subtask: str = Field(default="", max_length=200)
    score: float
    n_items: int | None = None
    normalized: bool = False  # already on the 0-100 normalized scale


class Popularity(SQLModel, table=True):
    __tablename__ = "popularity"

    model: str = Field(primary_key=True, max_length=300)
    downloads: int | None = Field(default=None, sa_column=Column(BigInteger))
    likes: int | None = None
    as_of: date | None = None  # the date the counts were taken


class ModelMetadata(SQLModel, table=True):
    """What a metadata file (the Open LLM Leaderboard v2 export, or JSONL) says about a
    model named anywhere (not only arena models): ``arena import metadata``."""

    __tablename__ = "model_metadata"

    model: str = Field(primary_key=True, max_length=300)
    organization: str | None = Field(default=None, max_length=200)
    parameters_b: float | None = None
    precision: str | None = Field(default=None, max_length=40)
    architecture: str | None = Field(default=None, max_length=200)
    license: str | None = Field(default=None, max_length=200)
    base_model: str | None = Field(default=None, max_length=300)
    release_date: date | None = None
    upload_date: date | None = None


class Alias(SQLModel, table=True):
    __tablename__ = "aliases"

    alias: str = Field(primary_key=True, max_length=300)  # stored lower-case
    model: str = Field(max_length=300)


class ApiToken(SQLModel, table=True):
    """A bearer token for the API; only its SHA-256 is stored (``arena token create``)."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    role: str = Field(max_length=20)  # maintainer | judge
    prefix: str = Field(index=True, max_length=16)  # the token's public first characters
    token_hash: str = Field(max_length=64)  # sha256 hex of the whole token
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
