"""Style counts of stored answers, and per-battle votes with style features from the database.

Each answer's counts (:func:`rating.style_features.answer_features`) are stored
in ``answers.style_*`` when the answer is written (:func:`style_columns`, called by
the importers), so a rating never re-parses text; answers stored before these
columns existed are counted once, on the first style-controlled rating
(:func:`fill_missing`).
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from arena.db import session_scope
from arena.models import Answer, Battle, BattleMessage, Model, Prompt, Vote
from arena.scope import HUMAN, Scope
from arena.style_rating import Options, VoteColumns, rate_battles
from arena.votes import DEFAULT_CATEGORY
from rating.errors import RatingError
from rating.style import StyleBattles
from rating.style_features import FEATURES, answer_features, battle_features

COLUMNS = tuple(f"style_{name}" for name in FEATURES)
OUTCOME = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}
BATCH = 500


def style_columns(text: str | None) -> dict:
    """``{"style_tokens", "style_headers", "style_lists", "style_bold"}`` of an answer text."""
    f = answer_features(text)
    return {f"style_{name}": f[name] for name in FEATURES}


def with_style(row: dict) -> dict:
    """An answer row (with ``text``) plus its style columns."""
    return {**row, **style_columns(row.get("text"))}


def fill_missing(engine: Engine) -> int:
    """Count the style of stored answers that have none yet; how many were filled."""
    table = Answer.__table__
    done = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(table.c.id, table.c.text).where(table.c.style_tokens.is_(None)).limit(BATCH)
            ).all()
            for answer_id, text in rows:
                conn.execute(
                    update(table).where(table.c.id == answer_id).values(**style_columns(text))
                )
        done += len(rows)
        if len(rows) < BATCH:
            return done


def _live_counts(engine: Engine, battle_ids: list[int]) -> dict[tuple[int, str], list[int]]:
    """(battle id, side) -> style counts summed over the answers that count (the
    highest attempt of each turn) of live battles, as for a multi-turn conversation."""
    from arena.live import SIDES

    table = BattleMessage.__table__
    out: dict[tuple[int, str], list[int]] = {}
    for start in range(0, len(battle_ids), BATCH):
        chunk = battle_ids[start : start + BATCH]
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    table.c.battle_id,
                    table.c.turn,
                    table.c.side,
                    table.c.attempt,
                    *(table.c[c] for c in COLUMNS),
                )
                .where(table.c.battle_id.in_(chunk), table.c.side.in_(SIDES))
                .order_by(table.c.battle_id, table.c.turn, table.c.side, table.c.attempt)
            ).all()
        latest = {(r[0], r[1], r[2]): r[4:] for r in rows}  # the highest attempt wins
        for (battle_id, _, side), counts in latest.items():
            total = out.setdefault((battle_id, side), [0] * len(COLUMNS))
            for k, v in enumerate(counts):
                total[k] += v or 0
    return out


def load_battles(
    engine: Engine,
    category: str | None = None,
    source: str | None = None,
    include_leaked: bool = False,
):
    """Every counted vote (of one prompt category and vote source, or all) as style
    battles, ``a`` = the left model.

    A battle whose prompt has no stored answer for one side gets zero style
    features (counted in the returned ``source["without_answers"]``); a live
    battle's features are those of its conversation (the answers' counts summed
    over its turns). Votes left out of the counts by default (leaked identity,
    cast after the reveal) are left out here too unless ``include_leaked``.

    Returns
    -------
    battles : StyleBattles
    cols : VoteColumns
        Prompt ids (for ``--dedup``), rater ids, UTC days and time order.
    source : dict
        For ``meta["input"]``.
    """
    filled = fill_missing(engine)
    left = aliased(Answer)
    right = aliased(Answer)
    stmt = (
        select(
            Battle.left_model_id,
            Battle.right_model_id,
            Vote.choice,
            Battle.prompt_id,
            Vote.rater_id,
            Vote.created_at,
            Prompt.category,
            *(getattr(left, c) for c in COLUMNS),
            *(getattr(right, c) for c in COLUMNS),
            Battle.id,
            Battle.status,
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
        .outerjoin(
            left, (left.prompt_id == Battle.prompt_id) & (left.model_id == Battle.left_model_id)
        )
        .outerjoin(
            right,
            (right.prompt_id == Battle.prompt_id) & (right.model_id == Battle.right_model_id),
        )
        .order_by(Vote.created_at, Vote.id)
    )
    if category:
        cond = Prompt.category == category
        if category == DEFAULT_CATEGORY:  # a battle without a prompt counts as "general"
            cond = or_(cond, Battle.prompt_id.is_(None))
        stmt = stmt.where(cond)
    if source:
        stmt = stmt.where(Vote.source == source)
    if not include_leaked:
        stmt = stmt.where(~or_(Battle.identity_leak, Vote.after_reveal))
    with session_scope(engine) as session:
        rows = session.execute(stmt).all()
        names = dict(session.execute(select(Model.id, Model.name)).all())
    if not rows:
        raise RatingError("no votes in this scope")
    k = len(COLUMNS)
    live = _live_counts(engine, sorted({r[-2] for r in rows if r[-1] is not None}))
    if live:
        rows = [
            r
            if r[-1] is None
            else (
                *r[:7],
                *live.get((r[-2], "left"), [None] * k),
                *live.get((r[-2], "right"), [None] * k),
                *r[-2:],
            )
            for r in rows
        ]
    ids = sorted({r[0] for r in rows} | {r[1] for r in rows}, key=lambda i: names[i])
    index = {model_id: n for n, model_id in enumerate(ids)}
    a = np.array([index[r[0]] for r in rows])
    b = np.array([index[r[1]] for r in rows])
    y = np.array([OUTCOME[r[2]] for r in rows])
    counts = np.array([[np.nan if v is None else v for v in r[7 : 7 + 2 * k]] for r in rows], float)
    missing = np.isnan(counts).any(axis=1)
    counts[missing] = 0.0
    z = battle_features(counts[:, :k], counts[:, k:])
    battles = StyleBattles(a, b, y, z, None, [names[i] for i in ids])
    when = [r[5] if r[5].tzinfo else r[5].replace(tzinfo=UTC) for r in rows]
    cols = VoteColumns(
        prompt=np.array([None if r[3] is None else str(r[3]) for r in rows], dtype=object),
        rater=np.array([r[4] for r in rows], dtype=object),
        day=np.array([w.astimezone(UTC).date().isoformat() for w in when], dtype=object),
        order=np.array([w.timestamp() for w in when]),
    )
    source = {
        "database": True,
        "without_answers": int(missing.sum()),
        "answers_counted_now": filled,
    }
    return battles, cols, source


#: The method name of stored style-controlled snapshots (meta: method "bt", style_control true).
STYLE_METHOD = "bt-style"


def recompute_style(engine: Engine, rating_settings) -> list[dict]:
    """Store style-controlled snapshots (method :data:`STYLE_METHOD`) of human votes, overall
    and per category; one report dict per scope, like :func:`arena.rating_store.recompute`."""
    from arena import rating_store

    try:
        battles, cols, source = load_battles(engine, source=HUMAN)
    except RatingError:
        return []
    with session_scope(engine) as session:
        cats = sorted(
            {c or DEFAULT_CATEGORY for c in session.execute(select(Prompt.category)).scalars()}
        )
    report = []
    for category in [None, *cats]:
        scope = Scope(category=category or "").stored()
        try:
            if category is None:
                b, c = battles, cols
            else:
                b, c, _ = load_battles(engine, category=category, source=HUMAN)
            result = rate_battles(
                b,
                c,
                Options(style_control=True),
                ci="sandwich",
                rounds=0,
                seed=int(rating_settings["seed"]),
                confidence=float(rating_settings["confidence"]),
                min_battles=rating_settings["min_battles"],
                scope=scope,
            )
        except RatingError as exc:
            report.append({**scope, "method": STYLE_METHOD, "error": str(exc)})
            continue
        result.meta["input"] = source
        result.method = STYLE_METHOD
        snap = rating_store.store_snapshot(engine, result)
        pruned = rating_store.prune_snapshots(
            engine, STYLE_METHOD, scope, int(rating_settings["keep_snapshots"])
        )
        report.append(
            {
                **scope,
                "method": STYLE_METHOD,
                "snapshot": snap,
                "models": len(result.models),
                "votes": result.meta.get("battles"),
                "pruned": pruned,
            }
        )
    return report
