"""Read per-battle files with style features for ``arena rate --style-control`` and the
LMArena options (``--dedup``, ``--max-votes-per-rater-day``, ``--reweight``).

One battle per row, as JSON Lines, a JSON list, CSV or (with pyarrow installed)
Parquet. Columns:

* LLMFAO's positional layout (``left``, ``right``, ``winner`` in ``left``,
  ``right``, ``tie``; ``prompt`` and ``worker`` then serve ``--dedup`` and the
  daily cap), or
* ``model_a``, ``model_b``, and the outcome: ``winner`` in ``model_a``,
  ``model_b``, ``tie``, ``tie (bothbad)`` / ``both_bad``, or the one-hot
  ``winner_model_a``, ``winner_model_b``, ``winner_tie`` of the 55k release;
* style counts, first found wins: LMArena's ``conv_metadata`` (an object or
  its JSON text) with ``sum_assistant_a_tokens``, ``header_count_a``
  {h1..h6}, ``list_count_a`` {ordered, unordered}, ``bold_count_a``
  {"**", "__"} and the ``_b`` twins; or flat ``tokens_a``, ``headers_a``,
  ``lists_a``, ``bold_a`` (and ``_b``); or the answers themselves, counted by
  :func:`rating.style_features.conversation_features`: ``conversation_a`` /
  ``conversation_b`` (role/content messages) or ``response_a`` /
  ``response_b`` (a list of answer strings, or its JSON text);
* optional: the prompt for ``--dedup`` (``prompt_hash``, else ``prompt``,
  else the first user turn of ``conversation_a``); the rater for the daily cap
  (``judge`` in LMArena's releases, or ``rater``, ``rater_id``, ``worker``);
  ``tstamp`` (Unix seconds) or ``timestamp`` (ISO 8601) for the day and the
  order; ``weight``; ``category``; ``source`` (default ``human``); ``anony``
  (``false`` = the models' names were known to the voter: left out, as
  LMArena does).

Every problem raises :class:`StyleFileError` naming the file, the line (the
row of a CSV or Parquet file) and the column.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from arena.importers.common import FileError
from rating.style import StyleBattles
from rating.style_features import FEATURES, battle_features, conversation_features

WINNERS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5, "both_bad": 0.5}
RATER_COLUMNS = ("judge", "rater", "rater_id", "worker")
META_KEYS = {
    "tokens": "sum_assistant_{s}_tokens",
    "headers": "header_count_{s}",
    "lists": "list_count_{s}",
    "bold": "bold_count_{s}",
}


class StyleFileError(FileError):
    """A battle file that cannot be read for style control."""


@dataclass
class StyleFile:
    """What a file held: the battles and the per-vote columns the filters use."""

    battles: StyleBattles
    prompt: np.ndarray  # object: prompt key or None
    rater: np.ndarray  # object: rater id or None
    day: np.ndarray  # object: "YYYY-MM-DD" or None
    order: np.ndarray  # float: time stamp (or row number)
    anonymous: np.ndarray  # bool
    category: np.ndarray  # object
    source: np.ndarray  # object: vote source ("human" when the file has none)
    feature_source: str  # "conv_metadata", "columns", "answers" or "none"


def _fail(path, line, message):
    raise StyleFileError(path, line, message)


def _rows(path: Path):
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise StyleFileError(
                path,
                None,
                "reading Parquet needs pyarrow (pip install pyarrow), "
                "or convert the file to JSON Lines",
            ) from None
        yield from enumerate(pq.read_table(path).to_pylist(), start=1)
        return
    with open(path, encoding="utf-8", newline="") as fh:
        head = fh.read(1 << 16).lstrip()
        fh.seek(0)
        if suffix == ".csv" or not head.startswith(("{", "[")):
            yield from enumerate(csv.DictReader(fh), start=2)
        elif head.startswith("["):
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise StyleFileError(path, None, f"not valid JSON: {exc}") from None
            yield from enumerate(data, start=1)
        else:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise StyleFileError(path, number, f"not JSON: {exc}") from None


def _maybe_json(value):
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _count(path, number, column, value):
    if isinstance(value, dict):  # e.g. {h1..h6}; a Parquet struct fills absent keys with null
        return sum(_count(path, number, column, v) for v in value.values() if v is not None)
    try:
        x = float(value)
    except (TypeError, ValueError):
        _fail(path, number, f"column {column!r}: {value!r} is not a count")
    if not np.isfinite(x) or x < 0:
        _fail(path, number, f"column {column!r}: {value!r} is not a count")
    return x


def _features(path, number, rec):
    meta = _maybe_json(rec.get("conv_metadata"))
    if isinstance(meta, dict) and meta:
        out = []
        for side in ("a", "b"):
            row = []
            for name in FEATURES:
                key = META_KEYS[name].format(s=side)
                if key not in meta:
                    _fail(path, number, f"column 'conv_metadata' has no {key!r}")
                row.append(_count(path, number, f"conv_metadata.{key}", meta[key]))
            out.append(row)
        return out, "conv_metadata"
    if all(f"{name}_a" in rec and f"{name}_b" in rec for name in FEATURES):
        return [
            [_count(path, number, f"{name}_{s}", rec[f"{name}_{s}"]) for name in FEATURES]
            for s in ("a", "b")
        ], "columns"
    for prefix in ("conversation", "response"):
        if f"{prefix}_a" in rec and f"{prefix}_b" in rec:
            out = []
            for s in ("a", "b"):
                value = _maybe_json(rec[f"{prefix}_{s}"])
                if prefix == "response" and isinstance(value, list):
                    value = [{"role": "assistant", "content": v} for v in value]
                if not isinstance(value, (list, str)):
                    _fail(path, number, f"column '{prefix}_{s}': not a conversation")
                f = conversation_features(value)
                out.append([float(f[name]) for name in FEATURES])
            return out, "answers"
    return None, "none"


def _outcome(path, number, rec):
    if "winner" in rec and rec["winner"] not in (None, ""):
        w = str(rec["winner"]).strip().lower()
        if w not in WINNERS:
            _fail(path, number, f"column 'winner': unknown value {rec['winner']!r}")
        return WINNERS[w]
    hot = [rec.get(c) for c in ("winner_model_a", "winner_model_b", "winner_tie")]
    if all(h is not None for h in hot):
        try:
            a, b, t = (int(float(h)) for h in hot)
        except ValueError:
            _fail(path, number, "columns 'winner_model_*': not 0/1")
        if a + b + t != 1:
            _fail(path, number, "columns 'winner_model_a/_b/winner_tie': exactly one must be 1")
        return 1.0 if a else 0.0 if b else 0.5
    _fail(path, number, "column 'winner' is missing")


def _prompt(rec):
    for key in ("prompt_hash", "prompt"):
        v = rec.get(key)
        if v not in (None, ""):
            v = _maybe_json(v)
            return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    conv = _maybe_json(rec.get("conversation_a"))
    if isinstance(conv, list):
        for msg in conv:
            if isinstance(msg, dict) and msg.get("role") == "user":
                return str(msg.get("content"))
    return None


def _time(path, number, rec):
    if rec.get("tstamp") not in (None, ""):
        try:
            t = float(rec["tstamp"])
        except ValueError:
            _fail(path, number, f"column 'tstamp': {rec['tstamp']!r} is not a Unix time")
        return t, datetime.fromtimestamp(t, UTC).date().isoformat()
    if rec.get("timestamp") not in (None, ""):
        try:
            d = datetime.fromisoformat(str(rec["timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            _fail(path, number, f"column 'timestamp': {rec['timestamp']!r} is not ISO 8601")
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        return d.timestamp(), d.astimezone(UTC).date().isoformat()
    return float(number), None


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    return bool(value)


def _positional(path, number, rec):
    """LLMFAO's layout: ``left``, ``right`` (names as shown), ``winner`` in left/right/tie."""
    w = str(rec["winner"]).strip().lower()
    outcome = {"left": "model_a", "right": "model_b", "tie": "tie"}.get(w)
    if outcome is None:
        _fail(path, number, f"column 'winner': unknown value {rec['winner']!r}")
    return {**rec, "model_a": rec["left"], "model_b": rec["right"], "winner": outcome}


def read_style_file(path: str | Path, *, need_features: bool = True) -> StyleFile:
    """Read a per-battle file (see the module docstring).

    Parameters
    ----------
    need_features : bool
        Refuse a row without style counts (``--style-control``); otherwise
        rows without them get zero features.
    """
    path = Path(path)
    if not path.is_file():
        raise StyleFileError(path, None, "no such file")
    names: dict[str, int] = {}
    a, b, y, w, sides = [], [], [], [], []
    prompt, rater, day, order, anon, cat, vote_source = [], [], [], [], [], [], []
    source = None
    for number, rec in _rows(path):
        if not isinstance(rec, dict):
            _fail(path, number, "not an object")
        if {"models", "X", "Y"} <= rec.keys():
            _fail(
                path,
                number,
                "aggregated pair counts ({models, X, Y}) have no battles: style control and "
                "the LMArena options need one battle per row",
            )
        if "model_a" not in rec and {"left", "right", "winner"} <= rec.keys():
            rec = _positional(path, number, rec)
        for col in ("model_a", "model_b"):
            if rec.get(col) in (None, ""):
                _fail(path, number, f"column {col!r} is missing")
        ma, mb = str(rec["model_a"]), str(rec["model_b"])
        if ma == mb:
            _fail(path, number, f"model_a and model_b are the same model ({ma!r})")
        y.append(_outcome(path, number, rec))
        feats, src = _features(path, number, rec)
        if feats is None:
            if need_features:
                _fail(
                    path,
                    number,
                    "no style counts: needs 'conv_metadata', tokens_a/headers_a/lists_a/bold_a "
                    "(and _b), or conversation_a/conversation_b",
                )
            feats = [[0.0] * len(FEATURES)] * 2
        source = source or src
        a.append(names.setdefault(ma, len(names)))
        b.append(names.setdefault(mb, len(names)))
        sides.append(feats)
        wt = rec.get("weight")
        if wt in (None, ""):
            w.append(1.0)
        else:
            wv = _count(path, number, "weight", wt)
            w.append(wv)
        prompt.append(_prompt(rec))
        rater.append(
            next((str(rec[c]) for c in RATER_COLUMNS if rec.get(c) not in (None, "")), None)
        )
        t, d = _time(path, number, rec)
        order.append(t)
        day.append(d)
        anon.append(_flag(rec["anony"]) if "anony" in rec else True)
        cat.append(rec.get("category") or "")
        vote_source.append(rec.get("source") or "human")
    if not a:
        raise StyleFileError(path, None, "no battles")
    counts = np.asarray(sides, float)
    z = battle_features(counts[:, 0, :], counts[:, 1, :])
    models = sorted(names, key=names.get)
    battles = StyleBattles(np.array(a), np.array(b), np.array(y), z, np.array(w), models)
    obj = lambda v: np.array(v, dtype=object)  # noqa: E731 (a one-line local helper)
    return StyleFile(
        battles,
        obj(prompt),
        obj(rater),
        obj(day),
        np.array(order, float),
        np.array(anon, bool),
        obj(cat),
        obj(vote_source),
        source or "none",
    )
