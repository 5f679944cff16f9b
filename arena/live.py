"""Live battles: a rater's own prompt, answered by two live models, turn by turn.

A *live* model has an endpoint (``[models.NAME]``, :mod:`arena.endpoints`). A live
battle is stored when it starts (unlike a battle drawn from imported answers,
whose token carries it until the vote), because its conversation is stored turn
by turn:

* :func:`start` checks the prompt, draws two live models with the pair policy of
  ``[battle] sampler``, flips the side coin, and stores the prompt
  (``prompt_set`` "live", key ``live:<battle key>``), the battle (origin "live",
  status "open", ``external_key`` ``live:<key>``), the user's message of turn 1
  and one "streaming" answer row per side. The caller commits, then calls
  :func:`request_generation`, which puts one request per side on the request
  stream (``[live] request_stream``) for :mod:`workers.generate`.
* :func:`follow_up` (a new turn) and :func:`answer_again` (the last turn's answers
  again, with the next ``attempt``; only the highest attempt of a turn counts)
  move a "ready" battle back to "open" with one compare-and-set UPDATE, so two
  requests at once cannot both succeed. Like :func:`begin` they return what
  :func:`request_generation` needs (the models and each side's conversation);
  :func:`add_turn` and :func:`regenerate` return just the turn (and attempt).
* The generation worker stores each finished answer and, when both sides of a
  turn are finished, sets the battle "ready" (or "failed", with the reason in
  ``failure``). A vote is accepted only on a "ready" battle
  (:func:`arena.votes.payload_for`); storing it sets "voted".
* :func:`current_messages` reads a battle's conversation (the answers that count);
  what a rater may see of it, and the reveal after the vote, are in
  :mod:`arena.live_view`.

Every refusal is a :class:`LiveError` carrying an HTTP status and a machine code.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from arena import sampling
from arena.battles import ensure_rater
from arena.db import dialect_insert
from arena.endpoints import ModelEndpoint, endpoints
from arena.live_rules import CATEGORIES, categorize
from arena.models import Battle, BattleMessage, Model, Prompt, Vote

ORIGIN = "live"
PROMPT_SET = "live"
STREAM_PREFIX = "arena:live:"
SIDES = ("left", "right")
#: The vote's claim in Redis (arena.votes.enqueue): ``arena:vote-claim:vote-<battle id>``.
_VOTE_CLAIM = "arena:vote-claim:vote-"

#: Machine code -> HTTP status of a refusal.
CODES = {
    "bad_prompt": 400,
    "too_long": 400,
    "no_live_models": 503,
    "max_turns": 409,
    "not_ready": 409,
    "battle_failed": 409,
    "already_voted": 409,
    "not_voted": 409,
    "no_battle": 404,
}


class LiveError(ValueError):
    """A live battle request that cannot be done: ``.status`` (HTTP) and ``.code``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.status = CODES[code]


# -- models ---------------------------------------------------------------------------------


def live_model_names(settings, session: Session) -> list[str]:
    """The live models raters can meet: configured endpoints whose model is not retired.

    A configured model with no row yet counts (:func:`start` adds its row). Empty
    when ``[live] enabled`` is false.
    """
    names = _configured(settings)
    found = _model_rows(session, names)
    return [n for n in names if found.get(n, (None, "active"))[1] in sampling.ELIGIBLE_STATES]


def _configured(settings) -> list[str]:
    """The models with an endpoint, none when live battles are off."""
    return list(endpoints(settings)) if settings.live.enabled else []


def _model_rows(session: Session, names: Sequence[str]) -> dict[str, tuple[int, str]]:
    """``{name: (id, state)}`` of the rows ``names`` have (one query; none for no names)."""
    if not names:
        return {}
    query = select(Model.name, Model.id, Model.state).where(Model.name.in_(names))
    return {name: (id_, state) for name, id_, state in session.execute(query).all()}


def _eligible_ids(settings, session: Session) -> dict[str, int]:
    """The ids of the live models raters can meet (:func:`live_model_names`), inserting the
    rows of configured models that have none yet. One query when every row exists (every
    battle after the first): no write, which on SQLite would take the database's lock."""
    names = _configured(settings)
    found = _model_rows(session, names)
    if len(found) < len(names):
        upsert = dialect_insert(session.get_bind())
        session.execute(
            upsert(Model.__table__).on_conflict_do_nothing(index_elements=["name"]),
            [{"name": n, "state": "active"} for n in names if n not in found],
        )
        found = _model_rows(session, names)
    return {n: found[n][0] for n in names if found[n][1] in sampling.ELIGIBLE_STATES}


# -- checks -----------------------------------------------------------------------------------


def check_text(settings, text: object) -> str:
    """``text`` when it is a usable prompt, else :class:`LiveError` saying why."""
    if not isinstance(text, str) or not text.strip():
        raise LiveError("bad_prompt", "the prompt is empty")
    if "\x00" in text:
        raise LiveError("bad_prompt", "the prompt contains a NUL character")
    limit = settings.live.max_prompt_chars
    if len(text) > limit:
        raise LiveError(
            "too_long", f"the prompt has {len(text)} characters; at most {limit} are accepted"
        )
    return text


def _check_category(session: Session, category: object) -> str | None:
    if category is None or category == "":
        return None
    if isinstance(category, str):
        if category in CATEGORIES:
            return category
        known = session.execute(
            select(Prompt.id).where(Prompt.category == category).limit(1)
        ).first()
        if known is not None:
            return category
    raise LiveError(
        "bad_prompt",
        f"unknown category {category!r}; use {', '.join(CATEGORIES)} or a category "
        "the arena's prompts have",
    )


def _settings_json(endpoint: ModelEndpoint | None) -> str | None:
    return None if endpoint is None else json.dumps(endpoint.generation_settings())


def _model_names(session: Session, battle: Battle) -> tuple[str, str]:
    """The (left, right) model names of ``battle``."""
    names = dict(
        session.execute(
            select(Model.id, Model.name).where(
                Model.id.in_([battle.left_model_id, battle.right_model_id])
            )
        ).all()
    )
    return (names.get(battle.left_model_id), names.get(battle.right_model_id))


def _answer_rows(
    settings, battle_id: int, turn: int, attempt: int, models: tuple[str, str]
) -> list[dict]:
    """The two "streaming" answer rows of a turn (the worker fills them); ``models`` are
    the (left, right) names."""
    eps = endpoints(settings)
    return [
        {
            "battle_id": battle_id,
            "turn": turn,
            "side": side,
            "attempt": attempt,
            "text": "",
            "status": "streaming",
            "settings": _settings_json(eps.get(name)),
        }
        for side, name in zip(SIDES, models, strict=True)
    ]


def _insert_id(session: Session, table, values: dict) -> int:
    """One row into ``table``; its new id."""
    return session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()


# -- starting and continuing --------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """A live battle just stored by :func:`begin`: what the caller needs without reading it
    back (the models stay the server's: never show them to the rater)."""

    battle_id: int
    models: tuple[str, str]  # (left, right) names in Arena
    text: str
    category: str

    def conversations(self) -> dict[str, list[tuple[str, str]]]:
        """Each side's conversation of turn 1, for :func:`request_generation`."""
        return {side: [("user", self.text)] for side in SIDES}


@dataclass(frozen=True)
class Continued:
    """A turn (:func:`follow_up`) or attempt (:func:`answer_again`) just stored: what
    :func:`request_generation` needs, without reading it back (the models stay the
    server's: never show them to the rater)."""

    battle_id: int
    turn: int
    attempt: int
    models: tuple[str, str]  # (left, right) names in Arena
    history: dict[str, tuple[tuple[str, str], ...]]  # side -> its conversation, oldest first

    def conversations(self) -> dict[str, list[tuple[str, str]]]:
        """Each side's conversation for this turn, for :func:`request_generation`."""
        return {side: list(pairs) for side, pairs in self.history.items()}


def start(
    session: Session,
    settings,
    rng: np.random.Generator,
    *,
    text: str,
    rater_id: str | None,
    category: str | None = None,
) -> int:
    """Store a new live battle on ``text`` and return its id (the caller commits).

    :func:`begin` with the same arguments; see there.
    """
    return begin(session, settings, rng, text=text, rater_id=rater_id, category=category).battle_id


def begin(
    session: Session,
    settings,
    rng: np.random.Generator,
    *,
    text: str,
    rater_id: str | None,
    category: str | None = None,
) -> Started:
    """Store a new live battle on ``text`` (the caller commits); what was stored.

    Raises
    ------
    LiveError
        ``bad_prompt`` / ``too_long`` for the text or an unknown category,
        ``no_live_models`` when fewer than two live models are configured.
    sampling.UnknownPolicy
        When ``[battle] sampler`` names no registered policy.
    """
    text = check_text(settings, text)
    chosen = _check_category(session, category)
    ids = _eligible_ids(settings, session)
    names = list(ids)
    if len(names) < 2:
        why = (
            "live battles are turned off"
            if not settings.live.enabled
            else (
                f"{len(names)} live model{'s are' if len(names) != 1 else ' is'} configured; "
                "two are needed"
            )
        )
        raise LiveError("no_live_models", why)
    policy_name = settings.battle.sampler
    policy = sampling.get_policy(policy_name)
    a, b = policy([ids[n] for n in names], rng)
    left, right = (b, a) if rng.random() < 0.5 else (a, b)
    key = secrets.token_urlsafe(12)
    # Core inserts (the columns' defaults apply), not ORM objects: this runs while the rater
    # waits for the first token, and building and flushing five ORM objects took about a fifth
    # of the start request's CPU (5.9-6.5 -> 4.9 ms in-process, 2026-12-02).
    category_ = chosen or categorize(text)
    prompt_id = _insert_id(
        session,
        Prompt.__table__,
        {"key": f"live:{key}", "text": text, "category": category_, "prompt_set": PROMPT_SET},
    )
    if rater_id:
        ensure_rater(session, rater_id)
    battle_id = _insert_id(
        session,
        Battle.__table__,
        {
            "prompt_id": prompt_id,
            "left_model_id": int(left),
            "right_model_id": int(right),
            "rater_id": rater_id,
            "origin": ORIGIN,
            "sampler": policy_name,
            "external_key": f"live:{key}",
            "status": "open",
            "turns": 1,
        },
    )
    by_id = {v: k for k, v in ids.items()}
    models = (by_id[int(left)], by_id[int(right)])
    user = {
        "battle_id": battle_id,
        "turn": 1,
        "side": "user",
        "attempt": 0,
        "text": text,
        "status": "done",
        "settings": None,
    }
    answers = _answer_rows(settings, battle_id, 1, 0, models)
    session.execute(insert(BattleMessage.__table__), [user, *answers])
    return Started(battle_id, models, text, category_)


def live_battle(session: Session, battle_id: int) -> Battle:
    battle = session.get(Battle, battle_id) if isinstance(battle_id, int) else None
    if battle is None or battle.origin != ORIGIN:
        raise LiveError("no_battle", f"there is no live battle {battle_id!r}")
    return battle


def has_vote(session: Session, battle_id: int) -> bool:
    return session.execute(select(Vote.id).where(Vote.battle_id == battle_id)).first() is not None


def _refuse_unless_ready(session: Session, battle: Battle) -> None:
    if battle.status == "voted" or has_vote(session, battle.id):
        raise LiveError("already_voted", "this battle has a vote; start a new one")
    if battle.status == "failed":
        raise LiveError("battle_failed", f"this battle failed ({battle.failure}); start a new one")
    if battle.status != "ready":
        raise LiveError("not_ready", "the answers are still coming; wait for them to finish")


def _reopen(session: Session, battle: Battle, turns: int) -> None:
    """ready -> open (and the new turn count), or LiveError when someone else moved first."""
    done = session.execute(
        update(Battle)
        .where(Battle.id == battle.id, Battle.status == "ready", Battle.turns == battle.turns)
        .values(status="open", turns=turns)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        session.refresh(battle)
        _refuse_unless_ready(session, battle)
        raise LiveError("not_ready", "the battle changed meanwhile; reload it")
    session.expire(battle)


def add_turn(session: Session, settings, battle_id: int, text: str) -> int:
    """Add a follow-up turn to a ready battle; returns the new turn number (caller commits).

    :func:`follow_up` with the same arguments; see there.
    """
    return follow_up(session, settings, battle_id, text).turn


def follow_up(session: Session, settings, battle_id: int, text: str) -> Continued:
    """Add a follow-up turn to a ready battle (the caller commits); what was stored.

    Raises
    ------
    LiveError
        ``no_battle``, ``already_voted``, ``battle_failed``, ``not_ready``,
        ``max_turns``, or ``bad_prompt`` / ``too_long`` for the text.
    """
    battle = live_battle(session, battle_id)
    _refuse_unless_ready(session, battle)
    text = check_text(settings, text)
    if battle.turns >= settings.live.max_turns:
        raise LiveError(
            "max_turns", f"this battle has its {settings.live.max_turns} turns; vote on it"
        )
    turn = battle.turns + 1
    _reopen(session, battle, turn)
    session.add(BattleMessage(battle_id=battle_id, turn=turn, side="user", text=text))
    return _continued(session, settings, battle_id, turn, 0)


def regenerate(session: Session, settings, battle_id: int) -> tuple[int, int]:
    """Answer the last turn again (both sides, the next attempt); returns (turn, attempt).

    :func:`answer_again` with the same arguments; see there.
    """
    again = answer_again(session, settings, battle_id)
    return again.turn, again.attempt


def answer_again(session: Session, settings, battle_id: int) -> Continued:
    """Answer the last turn again (both sides, the next attempt); what was stored.

    The earlier attempts stay stored; only the highest attempt of a turn counts.
    The caller commits. Raises :class:`LiveError` as :func:`follow_up` does (but for
    the text and ``max_turns``).
    """
    battle = live_battle(session, battle_id)
    _refuse_unless_ready(session, battle)
    turn = battle.turns
    attempt = (
        1
        + session.execute(
            select(func.max(BattleMessage.attempt)).where(
                BattleMessage.battle_id == battle_id,
                BattleMessage.turn == turn,
                BattleMessage.side.in_(SIDES),
            )
        ).scalar_one()
    )
    _reopen(session, battle, turn)
    return _continued(session, settings, battle_id, turn, attempt)


def _continued(session: Session, settings, battle_id: int, turn: int, attempt: int) -> Continued:
    """Add the answer rows of ``turn``/``attempt`` to a reopened battle; each side's
    conversation for them, built as the generation worker builds it from the database
    (:func:`workers.generate_store.job_of`: every turn's user text and, before this
    turn, that side's answer that counts)."""
    battle = session.get(Battle, battle_id)
    models = _model_names(session, battle)
    session.flush()  # a follow-up's user row first (the Core insert below does not flush)
    answers = _answer_rows(settings, battle_id, turn, attempt, models)
    session.execute(insert(BattleMessage.__table__), answers)
    messages = current_messages(session, battle_id)
    history = {side: conversation(messages, side, turn) for side in SIDES}
    return Continued(battle_id, turn, attempt, models, history)


def conversation(messages: Mapping, side: str, turn: int) -> tuple[tuple[str, str], ...]:
    """What ``side``'s model is asked at ``turn``: ``(role, text)`` pairs, every turn's user
    text and, before ``turn``, that side's answer. ``messages`` maps ``(turn, "user")`` and
    ``(turn, side)`` to the row that counts (its highest attempt), each with a ``text``."""
    pairs: list[tuple[str, str]] = []
    for k in range(1, turn + 1):
        user = messages.get((k, "user"))
        pairs.append(("user", user.text if user else ""))
        if k < turn:
            answer = messages.get((k, side))
            pairs.append(("assistant", answer.text if answer else ""))
    return tuple(pairs)


# -- Redis ------------------------------------------------------------------------------------


def stream_key(battle_id: int) -> str:
    """The battle's Redis stream of answer chunks: ``arena:live:<battle_id>``."""
    return f"{STREAM_PREFIX}{battle_id}"


def request_generation(
    redis,
    settings,
    battle_id: int,
    turn: int,
    attempt: int,
    *,
    models: Sequence[str] | None = None,
    conversations: dict[str, Sequence[tuple[str, str]]] | None = None,
) -> None:
    """Ask the generation workers for both answers of ``turn`` (attempt ``attempt``).

    Writes a "turn" entry on the battle's stream and one request per side on
    ``[live] request_stream``, in one round trip. Call it after the commit that
    stored the answer rows.

    ``models`` ((left, right) names) with ``conversations`` (side -> ``(role, text)``
    pairs, oldest first) go in the requests as a hint: the worker calls the model with
    them at once and checks them against the database meanwhile (a hint that does not
    match is not used). :meth:`Started.conversations` gives them for a new battle,
    :meth:`Continued.conversations` for a follow-up or a regenerate.
    """
    key = stream_key(battle_id)
    # MULTI/EXEC: a worker waiting on the request stream is woken once, with both requests
    # (so it claims and starts both answers together), not once per request.
    pipe = redis.pipeline(transaction=True)
    pipe.xadd(key, {"kind": "turn", "turn": str(turn), "attempt": str(attempt)})
    pipe.expire(key, settings.live.stream_ttl_seconds)
    for k, side in enumerate(SIDES):
        fields = {
            "battle_id": str(battle_id),
            "turn": str(turn),
            "attempt": str(attempt),
            "side": side,
        }
        if models is not None and conversations is not None and side in conversations:
            fields["model"] = models[k]
            fields["conversation"] = json.dumps([list(p) for p in conversations[side]])
        pipe.xadd(settings.live.request_stream, fields)
    pipe.execute()


def vote_claimed(redis, battle_id: int) -> bool:
    """Whether a vote on the battle was accepted (queued or stored): refuse to regenerate."""
    return bool(redis.exists(f"{_VOTE_CLAIM}{battle_id}"))


# -- reading ---------------------------------------------------------------------------------


def current_messages(session: Session, battle_id: int) -> dict[tuple[int, str], BattleMessage]:
    """(turn, side) -> the message that counts: the highest attempt of each side's turn."""
    rows = session.execute(
        select(BattleMessage)
        .where(BattleMessage.battle_id == battle_id)
        .order_by(BattleMessage.turn, BattleMessage.side, BattleMessage.attempt)
    ).scalars()
    return {(m.turn, m.side): m for m in rows}
