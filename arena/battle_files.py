"""Read battle files for ``arena rate --input FILE``, column by column (polars).

Formats (Parquet by its magic bytes; the others from the content, the
extension only breaking ties):

* **CSV** with a header, **JSON Lines**, **Parquet** or a **JSON array**
  (FastChat's clean-battle JSON) of battles with ``model_a``, ``model_b``,
  ``winner`` in ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``
  (``both_bad`` and ``tie (both bad)`` too). Optional columns: ``tstamp`` or
  ``timestamp`` (orders the battles for Elo: seconds, or a date and time),
  ``left`` (the name of the model shown on the left, or ``model_a`` /
  ``model_b``; without it ``model_a`` is taken as the left one, FastChat's
  convention), ``category``, ``source``, ``rater_group``, ``weight``;
* LMArena's public human-preference releases as distributed (100k / 140k:
  the columns above plus ``conversation_a/b``, ``conv_metadata``,
  ``category_tag``, ``language``, ``is_code``; 55k: ``winner_model_a``,
  ``winner_model_b``, ``winner_tie`` flags instead of ``winner``). Their
  category flags (every boolean inside ``category_tag``, and ``is_code``)
  become categories a battle can have several of (:attr:`Battles.flags`), and
  each ``language`` is a category named ``language:<value>`` (e.g.
  ``language:English``, :attr:`Battles.languages`);
  ``conv_metadata``'s style counts are kept per battle (:attr:`Battles.style`);
* the positional layout of LLMFAO's ``*-comparisons.csv``: ``left``, ``right``
  (the models' names as shown) and ``winner`` in ``left``, ``right``, ``tie``;
* the aggregated layout ``{"models": [...], "X": [[i, j], ...], "Y": [[wins_i,
  wins_j, ties, ties_both_bad], ...]}`` (e.g. ``chatbot-arena-20240814``),
  turned straight into counts (positions are not known there).

Only the columns used are read (a Parquet file's conversations stay on disk),
and every check is an array operation; only when a file is bad is it read
again line by line, to name the line. Every problem raises
:class:`BattleFileError` naming the file and the line (Parquet: the row) and
the column. The readers, and the slow pass that names a line, are
:mod:`arena.battle_readers`; the checks and counts are here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arena.battle_readers import (
    HEAD_BYTES,
    LABELS,
    ONE_HOT,
    TIME_COLUMNS,
    BattleFileError,
    _Bad,
    _fail,
    _polars,
    _read_csv,
    _read_jsonl,
    _read_parquet,
    _Recheck,
    _Where,
)
from arena.distinct_rows import DistinctRows, PerRow, distinct_rows
from rating.counts import Coded, CountTable, PairCounts, aggregate, pair_counts, table_from_pairs

WINNERS = {
    "model_a": 0,
    "model_b": 1,
    "tie": 2,
    "tie (bothbad)": 3,
    "both_bad": 3,
    "tie (both bad)": 3,
}
POSITIONAL_WINNERS = {"left": "model_a", "right": "model_b"}
#: ``conv_metadata`` counts kept per battle, as LMArena names them: side a -> its side b twin.
STYLE = {
    "sum_assistant_a_tokens": "sum_assistant_b_tokens",
    "header_count_a": "header_count_b",
    "list_count_a": "list_count_b",
    "bold_count_a": "bold_count_b",
}


@dataclass
class Battles:
    """What a file held.

    Attributes
    ----------
    table : CountTable
        Counts of every (category, source, rater group) scope.
    sequence : dict or None
        None for aggregated files. Else the battles in time order (stable:
        file order where no time is given) as arrays: ``left``, ``right``
        (indices into ``table.models``), ``outcome`` (0 left won, 1 right won,
        2 tie, 3 both bad), ``weight``, ``category``, ``source``, ``group``
        (strings), and the flags ``time_ordered`` and ``left_recorded``.
    flags : dict of str to numpy.ndarray of bool
        Category flags per battle, in ``sequence`` order (LMArena's
        ``category_tag`` booleans, e.g. ``math``, ``creative_writing``,
        ``if``, ``specificity``, and ``is_code``); :meth:`select` takes their
        names as categories.
    languages : tuple or None
        ``(codes, labels)`` of the ``language`` column per battle, in
        ``sequence`` order (``labels[codes[k]]`` is battle ``k``'s language,
        ``""`` when missing), or None without that column; :meth:`select`
        takes ``language:<label>`` as a category.
    style : dict of str to numpy.ndarray of float, or None
        ``conv_metadata`` style counts per battle, in ``sequence`` order, when
        the file has them: ``sum_assistant_a_tokens``, ``header_count_a``
        (h1..h6 summed), ``list_count_a`` (ordered + unordered),
        ``bold_count_a`` (``**`` + ``__``) and the ``_b`` twins. ``_a`` is the
        battle's ``left`` model in ``sequence`` (``model_a`` unless a ``left``
        column says otherwise), ``_b`` its ``right``. NaN where a battle has
        no value.
    """

    path: str
    format: str
    table: CountTable
    sequence: dict | None
    battles: float
    flags: dict = field(default_factory=dict)
    style: dict | None = None
    languages: tuple | None = None

    def flag(self, category: str | None) -> np.ndarray | None:
        """Which battles of ``sequence`` have the category flag or language ``category``
        (``language:<value>``), or None when ``category`` is neither (a plain category)."""
        if category is None:
            return None
        if category in self.flags:
            return self.flags[category]
        if category.startswith(LANGUAGE_PREFIX) and self.languages is not None:
            codes, labels = self.languages
            value = category[len(LANGUAGE_PREFIX) :]
            return codes == labels.index(value) if value in labels else np.zeros(codes.size, bool)
        return None

    def select(self, category=None, source=None, group=None) -> PairCounts:
        """Counts of one scope; ``category`` may name a flag (:attr:`flags`) or a language."""
        if self.flag(category) is None:
            return self.table.select(category, source, group)
        keep = self.scope_mask(category, source, group)
        seq = self.sequence
        sub = aggregate(
            seq["left"][keep],
            seq["right"][keep],
            seq["outcome"][keep],
            left=np.ones(int(keep.sum()), bool) if self.table.positional else None,
            weight=seq["weight"][keep],
            models=self.table.models,
        )
        return sub.select()

    def scope_mask(self, category=None, source=None, group=None) -> np.ndarray:
        """Which battles of ``sequence`` are in the scope (``category`` may be a flag or a
        language)."""
        seq = self.sequence
        keep = np.ones(seq["left"].size, bool)
        if category is not None:
            flag = self.flag(category)
            keep &= seq["category"] == category if flag is None else flag
        for value, key in ((source, "source"), (group, "group")):
            if value is not None:
                keep &= seq[key] == value
        return keep


#: A battle's ``language`` as a category: ``language:English``.
LANGUAGE_PREFIX = "language:"


def read(path: str | Path, *, time_order: bool = True) -> Battles:
    """Read a battle file (see the module's list of formats).

    ``time_order=False`` skips the time columns (counts do not need them):
    ``sequence`` then keeps the file's order and says ``time_ordered: False``.
    """
    path = Path(path)
    skip = () if time_order else TIME_COLUMNS
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise BattleFileError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if raw[:4] == b"PAR1":
        return _from_frame(path, "parquet", _read_parquet(path, skip))
    # Only to tell the format: a bad byte is reported where the file is read in full.
    head_text = raw.decode("utf-8-sig", errors="replace")
    if not head_text.strip():
        _fail(path, None, "the file is empty")
    head = head_text.lstrip()[:1]
    if head == "[" or (head == "{" and path.suffix.lower() == ".json"):
        return _read_json(path, skip)
    if head == "{":
        first = head_text.lstrip().split("\n", 1)[0]
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return _read_json(path, skip)
        return _from_frame(path, "jsonl", _read_jsonl(path, skip))
    return _from_frame(path, "csv", _read_csv(path, skip))


def _read_json(path: Path, skip=()):
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail(path, None, f"not UTF-8 text (byte {exc.start})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(path, exc.lineno, f"broken JSON: {exc.msg} (column {exc.colno})")
    if isinstance(data, dict) and {"models", "X", "Y"} <= set(data):
        return _aggregated(path, data)
    if isinstance(data, dict):
        _fail(
            path, None, "a JSON object needs the keys models, X and Y (or give a list of battles)"
        )
    if not isinstance(data, list):
        _fail(path, None, "expected a list of battles")
    bad = next((k for k, rec in enumerate(data) if not isinstance(rec, dict)), None)
    if bad is not None:
        _fail(path, None, f"battle {bad}: expected an object with model_a, model_b, winner")
    pl = _polars()
    try:
        frame = pl.read_json(path, infer_schema_length=None)
    except pl.exceptions.ComputeError as exc:
        _fail(path, None, f"cannot read the battles: {str(exc).splitlines()[0]}")
    return _from_frame(path, "fastchat-json", frame.drop(skip, strict=False))


# -- from columns to battles --------------------------------------------------------------------


def _text(pl, frame, name):
    """Column ``name`` as stripped text ("" for missing), or None when absent."""
    if name not in frame.columns:
        return None
    col = frame[name]
    if col.dtype != pl.String:
        col = col.cast(pl.String, strict=False)
    return col.fill_null("").str.strip_chars()


def _first(mask) -> int | None:
    hits = np.flatnonzero(np.asarray(mask))
    return int(hits[0]) if hits.size else None


def _from_frame(path: Path, fmt: str, frame) -> Battles:
    """Check the columns and turn them into counts, a time-ordered sequence, flags and style."""
    pl = _polars()
    frame = _one_hot_layout(pl, _positional_layout(pl, frame))
    missing = [c for c in ("model_a", "model_b", "winner") if c not in frame.columns]
    if missing:
        _fail(
            path,
            1 if fmt == "csv" else None,
            f"missing column(s) {', '.join(missing)}; the {'header' if fmt == 'csv' else 'file'}"
            f" has {', '.join(frame.columns) or 'nothing'}",
        )
    if frame.height == 0:
        _fail(path, None, "no battles in the file")
    distinct = distinct_rows(pl, frame)
    if distinct is not None:
        try:
            return _battles(path, fmt, distinct.rows, _Recheck(path, fmt), distinct)
        except _Bad:
            pass  # a bad row: the pass over every row below names its line
    return _battles(path, fmt, frame, _Where(path, fmt))


def _battles(path: Path, fmt: str, frame, where, distinct: DistinctRows | None = None) -> Battles:
    """The checks and the counts, per row of ``frame``, or per distinct row with
    ``distinct`` (``frame`` is then ``distinct.rows``: the counts are weighted by how
    often each row occurs, and the sequence's arrays are gathered on first use)."""
    pl = _polars()
    rows = frame.height
    models, ia, ib, outcome = _models_and_outcomes(pl, frame, where)
    is_left, left_recorded = _left_column(pl, frame, models, ia, ib, where)
    weight = _numbers(pl, frame, "weight", where, default=1.0, non_negative=True)
    stamp, time_ordered = _timestamps(pl, frame, where)
    labels = [
        _factor(pl, frame, name) or _Labels(np.zeros(rows, np.int64), ("",)) for name in LABELS
    ]
    if distinct is not None:
        counted = distinct.counts  # whole numbers: summed exactly, as counting rows would
    else:
        counted = weight if "weight" in frame.columns else None  # unweighted: faster counts
    table = aggregate(
        ia,
        ib,
        outcome,
        left=is_left,
        weight=counted,
        category=labels[0],
        source=labels[1],
        group=labels[2],
        models=models,
    )
    # In file order a slice: views, not copies of every column.
    order = np.argsort(stamp, kind="stable") if time_ordered else slice(None)
    seq = {
        "left": np.where(is_left, ia, ib)[order],
        "right": np.where(is_left, ib, ia)[order],
        "outcome": np.where(~is_left & (outcome < 2), 1 - outcome, outcome)[order],
        "weight": weight[order],
        "category": labels[0].strings()[order],
        "source": labels[1].strings()[order],
        "group": labels[2].strings()[order],
        "time_ordered": time_ordered,
        "left_recorded": left_recorded,
    }
    flags = {name: mask[order] for name, mask in _flags(pl, frame).items()}
    language = _factor(pl, frame, "language")
    languages = None if language is None else (language.codes[order], language.labels)
    style = _style(pl, frame)
    if style is not None:
        swap = ~is_left[order]
        style = {k: v[order] for k, v in style.items()}
        for a_name, b_name in STYLE.items():
            a, b = style[a_name], style[b_name]
            style[a_name], style[b_name] = np.where(swap, b, a), np.where(swap, a, b)
    if distinct is None:
        return Battles(str(path), fmt, table, seq, rows, flags, style, languages)
    # Every column of a distinct-rows frame is coded: no time, flags or style columns.
    if languages is not None:
        languages = (languages[0][distinct.inverse()], languages[1])
    sequence = PerRow(seq, distinct.inverse)
    return Battles(str(path), fmt, table, sequence, distinct.total, languages=languages)


def _models_and_outcomes(pl, frame, where):
    """Sorted model names, the codes of ``model_a`` and ``model_b``, and the outcome codes."""
    ma, mb, win = (_factor(pl, frame, c) for c in ("model_a", "model_b", "winner"))
    for name, f in (("model_a", ma), ("model_b", mb), ("winner", win)):
        k = _first(f.codes == f.labels.index("")) if "" in f.labels else None
        if k is not None:
            where.fail(k, f"missing {name}")
    outcome = np.array([WINNERS.get(w.lower(), -1) for w in win.labels], np.int64)[win.codes]
    models = tuple(sorted(set(ma.labels) | set(mb.labels)))
    index = {name: k for k, name in enumerate(models)}
    ia = np.array([index[x] for x in ma.labels], np.int64)[ma.codes]
    ib = np.array([index[x] for x in mb.labels], np.int64)[mb.codes]
    k = _first((ia == ib) | (outcome < 0))
    if k is not None:
        if ia[k] == ib[k]:
            where.fail(k, f"model {models[ia[k]]!r} plays itself")
        word = win.labels[win.codes[k]]
        where.fail(k, f"unknown winner {word!r} (use model_a, model_b, tie or 'tie (bothbad)')")
    return models, ia, ib, outcome


def _positional_layout(pl, frame):
    """LLMFAO's layout: ``left``, ``right`` (names as shown) and ``winner`` in left/right/tie."""
    if "model_a" in frame.columns or not {"left", "right", "winner"} <= set(frame.columns):
        return frame
    win = frame["winner"].cast(pl.String).str.strip_chars()
    return frame.with_columns(
        model_a=frame["left"],
        model_b=frame["right"],
        winner=win.replace(POSITIONAL_WINNERS),
    )


def _one_hot_layout(pl, frame):
    """LMArena's 55k release: ``winner_model_a``/``_b``/``winner_tie`` flags, one set per row."""
    if "winner" in frame.columns or not set(ONE_HOT) <= set(frame.columns):
        return frame
    flags = [
        frame[c].cast(pl.String).str.strip_chars().is_in(["1", "true", "True"]) for c in ONE_HOT
    ]
    winner = pl.select(
        pl.when(flags[0])
        .then(pl.lit("model_a"))
        .when(flags[1])
        .then(pl.lit("model_b"))
        .when(flags[2])
        .then(pl.lit("tie"))
        .otherwise(pl.lit(""))
    ).to_series()
    return frame.with_columns(winner=winner)


def _left_column(pl, frame, models, ia, ib, where):
    """True where ``model_a`` was shown left, and whether the file said so for every battle."""
    shown = _factor(pl, frame, "left")
    if shown is None:
        return np.ones(frame.height, bool), False
    index = {name: k for k, name in enumerate(models)}
    name = np.array([index.get(x, -1) for x in shown.labels], np.int64)[shown.codes]
    side = {"model_a": 1, "a": 1, "model_b": 2, "b": 2}
    word = np.array([side.get(x, 0) for x in shown.labels], np.int64)[shown.codes]
    given = np.array([x != "" for x in shown.labels], bool)[shown.codes]
    a_side = (name == ia) | (word == 1)
    b_side = (name == ib) | (word == 2)
    k = _first(given & ~a_side & ~b_side)
    if k is not None:
        where.fail(
            k,
            f"left is {shown.labels[shown.codes[k]]!r}, neither {models[ia[k]]!r} "
            f"nor {models[ib[k]]!r}",
        )
    return ~given | a_side, bool(given.all())


def _numbers(pl, frame, name, where, *, default, non_negative=False) -> np.ndarray:
    col = _text(pl, frame, name)
    if col is None:
        return np.full(frame.height, default)
    value = col.replace("", None).cast(pl.Float64, strict=False)
    bad = (col != "") & value.is_null()
    out = value.fill_null(default).to_numpy().astype(float)
    if non_negative:
        bad = bad.to_numpy() | ~np.isfinite(out) | (out < 0)
    k = _first(np.asarray(bad))
    if k is not None:
        kind = "a non-negative number" if non_negative else "a number"
        where.fail(k, f"{name} {frame[name][k]!r} is not {kind}")
    return out


def _timestamps(pl, frame, where) -> tuple[np.ndarray, bool]:
    """Seconds per battle (``tstamp`` or ``timestamp``: numbers or dates), and whether all
    battles had one."""
    name = next((c for c in TIME_COLUMNS if c in frame.columns), None)
    if name is None:
        return np.zeros(frame.height), False
    col = frame[name]
    if col.dtype.is_temporal():
        seconds = col.cast(pl.Datetime("us")).dt.epoch("us").cast(pl.Float64) / 1e6
        return seconds.fill_null(0.0).to_numpy(), bool(seconds.is_not_null().all())
    text = _text(pl, frame, name)
    value = text.replace("", None).cast(pl.Float64, strict=False)
    dated = (text != "") & value.is_null()
    if dated.any():  # not numbers: dates and times (ISO 8601)
        try:
            dates = text.replace("", None).str.to_datetime(strict=False, time_unit="us")
        except pl.exceptions.ComputeError:
            dates = pl.Series([None] * frame.height, dtype=pl.Datetime("us"))
        value = value.fill_null(dates.dt.epoch("us").cast(pl.Float64) / 1e6)
    k = _first(((text != "") & value.is_null()).to_numpy())
    if k is not None:
        where.fail(k, f"{name} {frame[name][k]!r} is not a number or a date")
    return value.fill_null(0.0).to_numpy(), bool((text != "").all())


@dataclass(frozen=True)
class _Labels(Coded):
    def strings(self) -> np.ndarray:
        return np.asarray(self.labels)[self.codes]


def _factor(pl, frame, name) -> _Labels | None:
    """Column ``name`` as codes into its distinct stripped values ("" for missing), or None.

    The strings are hashed once by polars; stripping, checks and look-ups then
    work on the few distinct values, not on every row.
    """
    if name not in frame.columns:
        return None
    col = frame[name]
    if col.dtype == pl.Categorical:
        values, codes = _categorical_codes(pl, col)
    else:
        if col.dtype != pl.String:
            col = col.cast(pl.String, strict=False)
        col = col.fill_null("")
        values = col.unique().to_list()
        codes = col.cast(pl.Enum(values)).to_physical().to_numpy().astype(np.int64)
    stripped = [v.strip() for v in values]
    labels = tuple(sorted(set(stripped)))
    index = {v: k for k, v in enumerate(labels)}
    return _Labels(np.array([index[v] for v in stripped], np.int64)[codes], labels)


def _categorical_codes(pl, col) -> tuple[list[str], np.ndarray]:
    """A categorical column's distinct values ("" for missing) and each row's index into them.

    The physical ids of a categorical are global to the process, so they are mapped to
    positions in the column's own distinct values through a small look-up table.
    """
    distinct = col.unique()
    ids = distinct.to_physical()
    missing = int(ids.max() or 0) + 1  # the id given to a missing value
    table = np.zeros(missing + 1, np.int64)
    table[ids.fill_null(missing).to_numpy()] = np.arange(distinct.len())
    values = distinct.cast(pl.String).fill_null("").to_list()
    return values, table[col.to_physical().fill_null(missing).to_numpy()]


def _structs(pl, col):
    """A struct column, decoding JSON text first (CSV files carry nested columns as text)."""
    if col.dtype == pl.String:
        col = col.str.json_decode(infer_schema_length=None)
    return col if isinstance(col.dtype, pl.Struct) else None


def _flags(pl, frame) -> dict[str, np.ndarray]:
    """Every boolean inside ``category_tag`` (one level or two deep), and ``is_code``."""
    out: dict[str, np.ndarray] = {}
    if "category_tag" in frame.columns:
        tags = _structs(pl, frame["category_tag"])
        if tags is not None:
            for f in tags.dtype.fields:
                inner = tags.struct.field(f.name)
                if isinstance(f.dtype, pl.Struct):
                    for g in f.dtype.fields:
                        if g.dtype == pl.Boolean:
                            flag = g.name if g.name not in out else f"{f.name}.{g.name}"
                            out[flag] = inner.struct.field(g.name).fill_null(False).to_numpy()
                elif f.dtype == pl.Boolean:
                    out[f.name] = inner.fill_null(False).to_numpy()
    if "is_code" in frame.columns:
        code = frame["is_code"]
        if code.dtype != pl.Boolean:
            code = code.cast(pl.String).str.strip_chars().str.to_lowercase().is_in(["true", "1"])
        out["is_code"] = code.fill_null(False).to_numpy()
    return out


def _style(pl, frame) -> dict[str, np.ndarray] | None:
    """``conv_metadata``'s style counts per battle (nested counts summed), or None."""
    if "conv_metadata" not in frame.columns:
        return None
    meta = _structs(pl, frame["conv_metadata"])
    if meta is None:
        return None
    names = {f.name: f.dtype for f in meta.dtype.fields}
    out = {}
    for pair in STYLE.items():
        for name in pair:
            if name not in names:
                out[name] = np.full(frame.height, np.nan)
                continue
            col = meta.struct.field(name)
            if isinstance(names[name], pl.Struct):
                col = pl.select(
                    pl.sum_horizontal(
                        [col.struct.field(g.name).cast(pl.Float64) for g in names[name].fields]
                    )
                ).to_series()
            out[name] = col.cast(pl.Float64).fill_null(np.nan).to_numpy()
    return out


def _aggregated(path, data):
    models = data["models"]
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        _fail(path, None, "models must be a list of names")
    if len(set(models)) != len(models):
        _fail(path, None, "models has duplicate names")
    x, y = data["X"], data["Y"]
    if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y):
        _fail(path, None, "X and Y must be lists of equal length")
    if not x:
        _fail(path, None, "no battles in the file")
    try:
        xa = np.asarray(x, dtype=np.int64)
        ya = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        _fail(path, None, "X must hold [i, j] index pairs and Y count rows")
    if xa.ndim != 2 or xa.shape[1] != 2:
        _fail(path, None, "X must hold [i, j] index pairs")
    if ya.ndim != 2 or ya.shape[1] not in (3, 4):
        _fail(path, None, "Y must hold [wins_i, wins_j, ties(, ties_both_bad)] rows")
    if ya.shape[1] == 3:
        ya = np.c_[ya, np.zeros(len(ya))]
    bad = np.flatnonzero((xa < 0).any(1) | (xa >= len(models)).any(1))
    if bad.size:
        _fail(path, None, f"X[{bad[0]}] = {x[bad[0]]}: model index out of range")
    same = np.flatnonzero(xa[:, 0] == xa[:, 1])
    if same.size:
        _fail(path, None, f"X[{same[0]}]: model {models[xa[same[0], 0]]!r} plays itself")
    neg = np.flatnonzero((ya < 0).any(1) | ~np.isfinite(ya).all(1))
    if neg.size:
        _fail(path, None, f"Y[{neg[0]}] = {y[neg[0]]}: counts must be non-negative numbers")
    pairs = pair_counts(xa[:, 0], xa[:, 1], ya, models, positional=False)
    total = ya.sum()
    return Battles(
        str(path),
        "aggregated-json",
        table_from_pairs(pairs),
        None,
        int(total) if total == int(total) else total,
    )
