"""The rating store: counts in, rating snapshots out (the database side of :mod:`rating`).

* :func:`load_table` reads ``pair_counts`` (kept current by the vote job) into
  one :class:`rating.counts.CountTable`: O(pairs x scopes) rows, however many
  votes there are. Every scope (category, source, rater group; ``None`` = all)
  is then a sum in NumPy.
* :func:`load_sequence` reads the votes themselves in ``created_at`` order, for
  online Elo only: O(votes).
* :func:`compute` rates one scope; :func:`store_snapshot` keeps the result as a
  ``rating_snapshots`` row (payload = the ``arena rate --format json`` document
  including the bootstrap replicates); :func:`recompute` does the default scopes
  (:func:`arena.scope.default_scopes`: human votes overall, per category and per
  rater group, each judge, every source together), and keeps only the newest
  ``[rating] keep_snapshots`` rows per method and scope (a payload with 1,000
  replicates of 129 models is about 1 MB); :func:`latest_snapshot` (one
  method, one scope) is what pages and the API read.

Votes on battles whose answers gave a model's identity away (``identity_leak``)
and votes cast after the reveal (``after_reveal``) are stored but not counted in
``pair_counts``; :func:`read_votes` leaves them out too, unless
``include_leaked`` (``arena rate --include-leaked``) asks for them, and
:func:`load_table` then adds them from the votes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.engine import Engine

from arena.db import session_scope
from arena.models import Battle, Model, PairCount, Prompt, Rater, RatingSnapshot, Vote
from arena.scope import HUMAN, Scope
from arena.scope import default_scopes as scope_defaults
from rating.counts import CountTable
from rating.engine import RatingError, elo_options, rate, rate_elo
from rating.snapshot import Result, dumps

CHOICE_CODES = {"left": 0, "right": 1, "tie": 2, "both_bad": 3}
DEFAULT_CATEGORY = "general"  # a battle without a prompt (as arena.votes does)


def _codes(values):
    labels = tuple(sorted(set(values))) or ("",)
    index = {v: k for k, v in enumerate(labels)}
    return np.array([index[v] for v in values], np.int64), labels


#: A vote that is not counted by default: its battle leaked an identity, or it was cast
#: after the reveal.
NOT_COUNTED = or_(Battle.identity_leak, Vote.after_reveal)


def _uncounted_rows(session) -> list:
    """The votes kept out of ``pair_counts``, aggregated as its rows are."""
    choice = {c: func.sum(case((Vote.choice == c, 1), else_=0)) for c in CHOICE_CODES}
    keys = (Prompt.category, Vote.source, Rater.group, Battle.left_model_id, Battle.right_model_id)
    rows = session.execute(
        select(
            *keys,
            choice["left"],
            choice["right"],
            choice["tie"],
            choice["both_bad"],
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
        .outerjoin(Rater, Rater.id == Vote.rater_id)
        .where(NOT_COUNTED)
        .group_by(*keys)
    ).all()
    return [(r[0] or DEFAULT_CATEGORY, r[1], r[2] or "", *r[3:]) for r in rows]


def load_table(engine: Engine, include_leaked: bool = False) -> CountTable:
    """Every ``pair_counts`` row, as one :class:`CountTable` (model names from ``models``).

    ``include_leaked`` adds the votes kept out of the counts (leaked identity, cast
    after the reveal), read from the votes.
    """
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                PairCount.category,
                PairCount.source,
                PairCount.rater_group,
                PairCount.left_model_id,
                PairCount.right_model_id,
                PairCount.left_wins,
                PairCount.right_wins,
                PairCount.ties,
                PairCount.both_bad,
            )
        ).all()
        if include_leaked:
            rows = list(rows) + list(_uncounted_rows(session))
        names = dict(session.execute(select(Model.id, Model.name)).all())
    if not rows:
        return CountTable(
            (),
            ("",),
            ("",),
            ("",),
            *(np.zeros(0, np.int64) for _ in range(5)),
            np.zeros((0, 4)),
            True,
        )
    cat, src, grp, lid, rid, *cnt = zip(*rows)
    models = tuple(sorted({names[k] for k in set(lid) | set(rid)}))
    index = {name: k for k, name in enumerate(models)}
    cc, cats = _codes(cat)
    sc, srcs = _codes(src)
    gc, grps = _codes([g or "" for g in grp])
    left = np.array([index[names[k]] for k in lid], np.int64)
    right = np.array([index[names[k]] for k in rid], np.int64)
    counts = np.array(cnt, float).T.reshape(-1, 4)
    return CountTable(models, cats, srcs, grps, cc, sc, gc, left, right, counts, True)


def read_votes(
    engine: Engine, source: str | None = None, include_leaked: bool = False
) -> tuple[list, dict]:
    """Every counted vote (of one source, or all) in ``created_at`` order, and the model
    names by id; ``include_leaked``: the votes left out of the counts too.

    Rows are (left model id, right model id, choice, source, category, rater group).
    """
    stmt = (
        select(
            Battle.left_model_id,
            Battle.right_model_id,
            Vote.choice,
            Vote.source,
            Prompt.category,
            Rater.group,
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
        .outerjoin(Rater, Rater.id == Vote.rater_id)
        .order_by(Vote.created_at, Vote.id)
    )
    if source is not None:
        stmt = stmt.where(Vote.source == source)
    if not include_leaked:
        stmt = stmt.where(~NOT_COUNTED)
    with session_scope(engine) as session:
        rows = session.execute(stmt).all()
        names = dict(session.execute(select(Model.id, Model.name)).all())
    return rows, names


def load_sequence(
    engine: Engine,
    category: str | None = None,
    source: str | None = None,
    rater_group: str | None = None,
    votes: tuple[list, dict] | None = None,
):
    """Votes in ``created_at`` order as (left, right, outcome, models) arrays, for Elo.

    This reads every vote of the scope: O(votes). ``votes``: the answer of
    :func:`read_votes` to use instead of reading (one read for many scopes).
    """
    rows, names = read_votes(engine, source) if votes is None else votes
    rows = [
        r
        for r in rows
        if (source is None or r[3] == source)
        and (category is None or (r[4] or DEFAULT_CATEGORY) == category)
        and (rater_group is None or (r[5] or "") == rater_group)
    ]
    models = tuple(sorted({names[r[0]] for r in rows} | {names[r[1]] for r in rows}))
    index = {name: k for k, name in enumerate(models)}
    left = np.array([index[names[r[0]]] for r in rows], np.int64)
    right = np.array([index[names[r[1]]] for r in rows], np.int64)
    outcome = np.array([CHOICE_CODES[r[2]] for r in rows], np.int64)
    return left, right, outcome, models


def compute(
    engine: Engine,
    method: str = "bt",
    category: str | None = None,
    source: str | None = None,
    rater_group: str | None = None,
    table: CountTable | None = None,
    elo_k: float | None = None,
    votes: tuple[list, dict] | None = None,
    include_leaked: bool = False,
    **options,
) -> Result:
    """Rate one scope from the database, named as :meth:`arena.scope.Scope.of` takes it:
    every category and rater group unless named; human votes unless ``source`` names
    another (``judge:NAME``) or ``all``.

    ``table`` (:func:`load_table`) and, for Elo, ``votes`` (:func:`read_votes`)
    spare the reads when many scopes are rated. ``include_leaked`` counts the votes
    left out by default (leaked identity, cast after the reveal) when it reads.
    """
    chosen = Scope.of(category, source, rater_group)
    category, source, rater_group = chosen.filters
    scope = chosen.stored()
    if method == "elo":
        if votes is None:
            votes = read_votes(engine, source, include_leaked)
        left, right, outcome, models = load_sequence(engine, category, source, rater_group, votes)
        if left.size == 0:
            raise RatingError("no votes in this scope")
        k = {} if elo_k is None else {"k": elo_k}
        return rate_elo(left, right, outcome, models, scope=scope, **k, **elo_options(options))
    table = load_table(engine, include_leaked) if table is None else table
    pairs = table.select(category, source, rater_group)
    if pairs.total == 0:
        raise RatingError("no votes in this scope")
    return rate(pairs, method, scope=scope, **options)


def store_snapshot(engine: Engine, result: Result, created_at: datetime | None = None) -> int:
    """Store ``result`` (with its bootstrap replicates) as a ``rating_snapshots`` row."""
    created_at = created_at or datetime.now(UTC)
    meta = dict(result.meta)
    meta["created_at"] = created_at.isoformat(timespec="seconds")
    result = Result(**{**result.__dict__, "meta": meta})
    scope = meta["scope"]
    row = RatingSnapshot(
        created_at=created_at,
        method=result.method,
        category=scope["category"],
        source=scope["source"],
        rater_group=scope["rater_group"],
        digest=meta["digest"],
        votes=int(meta["battles"]),
        payload=result.to_json(replicates=True),
    )
    with session_scope(engine) as session:
        session.add(row)
        session.flush()
        return int(row.id)


def prune_snapshots(engine: Engine, method: str, scope: dict, keep: int) -> int:
    """Delete all but the newest ``keep`` snapshots of one method and scope; returns how many."""
    if keep <= 0:
        return 0
    where = (
        RatingSnapshot.method == method,
        RatingSnapshot.category == scope["category"],
        RatingSnapshot.source == scope["source"],
        RatingSnapshot.rater_group == scope["rater_group"],
    )
    with session_scope(engine) as session:
        old = (
            session.execute(
                select(RatingSnapshot.id)
                .where(*where)
                .order_by(RatingSnapshot.created_at.desc(), RatingSnapshot.id.desc())
                .offset(keep)
            )
            .scalars()
            .all()
        )
        if old:
            session.execute(delete(RatingSnapshot).where(RatingSnapshot.id.in_(old)))
        return len(old)


def default_scopes(table: CountTable) -> list[Scope]:
    """The recompute job's scopes (:func:`arena.scope.default_scopes`) for the labels present:
    human votes overall, per category and per rater group; each judge; every source."""
    labels = table.labels()
    return scope_defaults(list(labels["category"]), list(labels["source"]), list(labels["group"]))


def options_from_settings(rating_settings) -> dict:
    """``rate`` keyword arguments from the ``[rating]`` settings section (what the job uses)."""
    return {
        "rounds": int(rating_settings["bootstrap"]),
        "seed": int(rating_settings["seed"]),
        "confidence": float(rating_settings["confidence"]),
        "min_battles": rating_settings["min_battles"],
        "components": rating_settings["components"],
    }


def recompute(
    engine: Engine,
    rating_settings,
    scopes=None,
    method: str | None = None,
    progress=None,
    options: dict | None = None,
    elo_k: float | None = None,
) -> list[dict]:
    """Recompute and store snapshots; one report dict per scope.

    Parameters
    ----------
    rating_settings
        The ``[rating]`` section: ``method`` (unless ``method`` is given),
        ``keep_snapshots`` and, unless ``options`` is given, the options of
        :func:`options_from_settings`. Without ``options``, Elo has no
        bootstrap (the job keeps the recompute cheap).
    scopes : iterable of Scope or of (category, source, rater_group), optional
        Tuples are read by :meth:`arena.scope.Scope.of` (``None``: every category or
        group; human votes unless a source is named); default :func:`default_scopes`.
        A scope that cannot be rated (e.g. no votes) is reported with its error and
        stores nothing.
    options : dict, optional
        Every keyword argument of :func:`rating.engine.rate` to use instead
        (``arena rate --store``: its ``--ci``, ``--anchor``, ``--solver``, ...);
        the stored snapshot's meta records them.
    elo_k : float, optional
        Elo's K factor (default: that of :func:`rating.engine.rate_elo`).
    """
    method = method or rating_settings["method"]
    table = load_table(engine)
    if scopes is None:
        scopes = default_scopes(table) if table.left.size else []
    if options is None:
        options = options_from_settings(rating_settings)
        if method == "elo":
            options["rounds"] = 0
    options = dict(options)
    votes = None
    if method == "elo":
        votes = read_votes(engine) if scopes else None
        if elo_k is not None:
            options["elo_k"] = elo_k
    report = []
    for chosen in scopes:
        if not isinstance(chosen, Scope):
            chosen = Scope.of(*chosen)
        scope = chosen.stored()
        try:
            result = compute(
                engine,
                method,
                chosen.category,
                chosen.source,
                chosen.rater_group,
                table=table,
                votes=votes,
                progress=progress,
                **options,
            )
        except RatingError as exc:
            report.append({**scope, "error": str(exc)})
            continue
        snap = store_snapshot(engine, result)
        pruned = prune_snapshots(engine, method, scope, int(rating_settings["keep_snapshots"]))
        report.append(
            {
                **scope,
                "snapshot": snap,
                "models": len(result.models),
                "votes": result.meta["battles"],
                "pruned": pruned,
            }
        )
    return report


def latest_snapshot_row(
    engine: Engine, method: str, category: str = "", source: str = HUMAN, rater_group: str = ""
):
    """The newest stored snapshot row of one method for this scope (as snapshots store it:
    ``""`` = every category, source or group; the default source is human): ``id``,
    ``digest``, ``created_at`` and ``payload`` (the JSON text), or None.

    ``method`` has no default here: readers pass the one asked for, else
    ``settings["rating"]["method"]`` (what the recompute job stores).
    """
    stmt = (
        select(
            RatingSnapshot.id,
            RatingSnapshot.digest,
            RatingSnapshot.created_at,
            RatingSnapshot.payload,
        )
        .where(
            RatingSnapshot.method == method,
            RatingSnapshot.category == category,
            RatingSnapshot.source == source,
            RatingSnapshot.rater_group == rater_group,
        )
        .order_by(RatingSnapshot.created_at.desc(), RatingSnapshot.id.desc())
        .limit(1)
    )
    with session_scope(engine) as session:
        return session.execute(stmt).first()


def latest_snapshot(
    engine: Engine, method: str, category: str = "", source: str = HUMAN, rater_group: str = ""
) -> dict | None:
    """The newest stored snapshot's payload of one method for this scope (as
    :func:`latest_snapshot_row` reads it), or None."""
    row = latest_snapshot_row(engine, method, category, source, rater_group)
    return None if row is None else json.loads(row.payload)


__all__ = [
    "compute",
    "dumps",
    "latest_snapshot",
    "latest_snapshot_row",
    "load_sequence",
    "load_table",
    "read_votes",
    "recompute",
    "store_snapshot",
]
