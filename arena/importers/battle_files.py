"""Read battle files for ``arena rate --input FILE``.

Formats (detected from the content; the extension only breaks ties):

* CSV with a header, or JSON Lines, with ``model_a``, ``model_b``, ``winner``
  where ``winner`` is ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``
  (``both_bad`` is accepted too); optional ``tstamp`` (orders the battles for
  Elo), ``left`` (the name of the model shown on the left, or ``model_a`` /
  ``model_b``; without it ``model_a`` is taken as the left one, FastChat's
  convention), ``category``, ``source``, ``rater_group``, ``weight``;
* the positional layout of LLMFAO's ``*-comparisons.csv``: ``left``, ``right``
  (the models' names as shown) and ``winner`` in ``left``, ``right``, ``tie``;
* FastChat's clean-battle JSON: a list of such objects;
* the aggregated layout ``{"models": [...], "X": [[i, j], ...], "Y": [[wins_i,
  wins_j, ties, ties_both_bad], ...]}`` (e.g. ``chatbot-arena-20240814``),
  turned straight into counts (positions are not known there).

Every problem raises :class:`BattleFileError` naming the file and the line.
"""

from __future__ import annotations

import csv
import json
import math
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from arena.importers.common import FileError
from rating.counts import CountTable, aggregate, pair_counts, table_from_pairs

WINNERS = {
    "model_a": 0,
    "model_b": 1,
    "tie": 2,
    "tie (bothbad)": 3,
    "both_bad": 3,
    "tie (both bad)": 3,
}
REQUIRED = ("model_a", "model_b", "winner")


class BattleFileError(FileError):
    """A battle file that cannot be read; the message names the file and line."""


@dataclass
class Battles:
    """What a file held.

    ``table`` has the counts of every scope. ``sequence`` (None for aggregated
    files) has the battles in time order as (left, right, outcome, category,
    source, group) arrays, for Elo; ``left``/``right`` index ``table.models``.
    """

    path: str
    format: str
    table: CountTable
    sequence: dict | None
    battles: int


def read(path: str | Path) -> Battles:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise BattleFileError(path, None, f"cannot read: {exc.strerror or exc}") from None
    # Only to tell the format: a bad byte is reported where the file is read in full.
    head_text = raw.decode("utf-8-sig", errors="replace")
    if not head_text.strip():
        raise BattleFileError(path, None, "the file is empty")
    head = head_text.lstrip()[:1]
    suffix = path.suffix.lower()
    if head == "[" or (head == "{" and suffix == ".json"):
        return _read_json(path, _whole_text(path))
    if head == "{":
        first = head_text.lstrip().split("\n", 1)[0]
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return _read_json(path, _whole_text(path))
        return _read_jsonl(path)
    return _read_csv(path)


HEAD_BYTES = 1 << 16


def _whole_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BattleFileError(path, None, f"not UTF-8 text (byte {exc.start})") from None


def _lines(path: Path):
    """The file's lines, decoded one at a time (a bad byte names its line)."""
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                yield line_no, raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError:
                _fail(path, line_no, "not UTF-8 text")


def _fail(path, line, message):
    raise BattleFileError(path, line, message)


def _read_json(path, text):
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
    return _records(path, "fastchat-json", ((None, k, rec) for k, rec in enumerate(data)))


def _read_jsonl(path):
    def rows():
        for line_no, line in _lines(path):
            if not line.strip():
                continue
            try:
                yield line_no, None, json.loads(line)
            except json.JSONDecodeError as exc:
                _fail(path, line_no, f"broken JSON: {exc.msg} (column {exc.colno})")

    return _records(path, "jsonl", rows())


def _read_csv(path):
    reader = csv.DictReader(line for _, line in _lines(path))
    fields = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in fields]
    if missing and {"left", "right", "winner"} <= set(fields):
        missing = []  # the positional layout (LLMFAO's comparisons)
    if missing:
        _fail(
            path,
            1,
            f"missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(fields) or 'nothing'}",
        )

    def rows():
        for rec in reader:
            yield reader.line_num, None, rec

    return _records(path, "csv", rows())


class _Codes(dict):
    """Labels to integer codes, numbered as first seen."""

    def code(self, label: str) -> int:
        k = self.get(label)
        if k is None:
            k = self[label] = len(self)
        return k

    def sorted(self, codes: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        """The codes renumbered to index the sorted labels, and those labels."""
        labels = sorted(self)
        remap = np.empty(len(self), np.int64)
        remap[[self[x] for x in labels]] = np.arange(len(labels))
        return remap[codes], tuple(labels)

    def labels_of(self, codes: np.ndarray) -> np.ndarray:
        """The label of each code, as a NumPy string array."""
        index, labels = self.sorted(codes)
        return np.asarray(labels)[index]


def _records(path, fmt, rows):
    """Check each battle and keep it as small integer codes (no per-battle objects)."""
    names, cats, srcs, grps = _Codes(), _Codes(), _Codes(), _Codes()
    a, b, cat, src, grp = (array("q") for _ in range(5))
    out, left = array("b"), array("b")
    wt, ts = array("d"), array("d")
    has_left = has_ts = True
    for where, item, rec in rows:
        label = "" if where is not None else f"battle {item}: "
        if not isinstance(rec, dict):
            _fail(path, where, f"{label}expected an object with model_a, model_b, winner")
        if "model_a" not in rec and "left" in rec and "right" in rec:
            rec = _positional(rec)
        missing = [k for k in REQUIRED if rec.get(k) in (None, "")]
        if missing:
            _fail(path, where, f"{label}missing {', '.join(missing)}")
        ma, mb, win = (
            str(rec["model_a"]).strip(),
            str(rec["model_b"]).strip(),
            str(rec["winner"]).strip(),
        )
        if ma == mb:
            _fail(path, where, f"{label}model {ma!r} plays itself")
        code = WINNERS.get(win.lower())
        if code is None:
            _fail(
                path,
                where,
                f"{label}unknown winner {win!r} (use model_a, model_b, tie or 'tie (bothbad)')",
            )
        shown = rec.get("left")
        if shown in (None, ""):
            has_left = False
            is_left = True
        elif shown in (ma, "model_a", "a"):
            is_left = True
        elif shown in (mb, "model_b", "b"):
            is_left = False
        else:
            _fail(path, where, f"{label}left is {shown!r}, neither {ma!r} nor {mb!r}")
        weight = rec.get("weight")
        if weight in (None, ""):
            weight = 1.0
        try:
            weight = float(weight)
            if not math.isfinite(weight) or weight < 0:
                raise ValueError
        except (TypeError, ValueError):
            _fail(path, where, f"{label}weight {rec.get('weight')!r} is not a non-negative number")
        stamp = rec.get("tstamp")
        if stamp in (None, ""):
            has_ts = False
            stamp = 0.0
        try:
            stamp = float(stamp)
        except (TypeError, ValueError):
            _fail(path, where, f"{label}tstamp {rec.get('tstamp')!r} is not a number")
        a.append(names.code(ma))
        b.append(names.code(mb))
        out.append(code)
        left.append(is_left)
        cat.append(cats.code(str(rec.get("category") or "")))
        src.append(srcs.code(str(rec.get("source") or "")))
        grp.append(grps.code(str(rec.get("rater_group") or "")))
        wt.append(weight)
        ts.append(stamp)
    if not a:
        _fail(path, None, "no battles in the file")
    both, models = names.sorted(
        np.concatenate([np.frombuffer(a, np.int64), np.frombuffer(b, np.int64)])
    )
    ia, ib = both[: len(a)], both[len(a) :]
    lf = np.frombuffer(left, np.int8).astype(bool)
    o = np.frombuffer(out, np.int8).astype(np.int64)
    scopes = [
        codes.labels_of(np.frombuffer(raw, np.int64))
        for codes, raw in ((cats, cat), (srcs, src), (grps, grp))
    ]
    table = aggregate(
        ia,
        ib,
        o,
        left=lf,
        weight=np.frombuffer(wt),
        category=scopes[0],
        source=scopes[1],
        group=scopes[2],
        models=models,
    )
    order = np.argsort(np.frombuffer(ts), kind="stable") if has_ts else np.arange(len(a))
    seq = {
        "left": np.where(lf, ia, ib)[order],
        "right": np.where(lf, ib, ia)[order],
        "outcome": np.where(~lf & (o < 2), 1 - o, o)[order],
        "category": scopes[0][order],
        "source": scopes[1][order],
        "group": scopes[2][order],
        "time_ordered": has_ts,
        "left_recorded": has_left,
    }
    return Battles(str(path), fmt, table, seq, len(a))


def _positional(rec):
    """LLMFAO's layout: ``left``, ``right`` (names as shown) and ``winner`` in left/right/tie."""
    win = str(rec.get("winner") or "").strip()
    return {
        **rec,
        "model_a": rec["left"],
        "model_b": rec["right"],
        "left": rec["left"],
        "winner": {"left": "model_a", "right": "model_b"}.get(win.lower(), win),
    }


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
