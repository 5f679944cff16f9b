"""Import the LLMFAO data set: prompts, models, answers and historical votes.

The layout is the one published by LLMFAO (github.com/dustalov/llmfao)::

    prompts.jsonl          {"id", "text", "type", "slug", "note", ...}
    models.jsonl           {"id", "name", "org", "api_id", "type", ...}
    results.jsonl          {"prompt": id, "model": id, "result", "duration", "rate", ...}
    crowd-comparisons.csv  id,prompt,model_x,model_y,worker,winner,left,right
    gpt4-comparisons.csv   id,prompt,model_x,model_y,winner,left,right
    gpt3-comparisons.csv   (same columns as gpt4)

Mapping: a prompt is stored with key ``llmfao:<id>``, category ``type``,
prompt set ``llmfao`` and its ``note`` as the reference; a model by its
``name`` with ``org`` as organization; an answer from ``result`` with
``duration`` (ms) as latency and ``rate`` as tokens per second. Every
comparison row becomes one battle with the models in the positions shown
(``left``, ``right``), origin ``import:llmfao`` and external key
``llmfao:<file>:<row>`` (``row`` counts data rows from 0), and one vote whose
choice is ``winner`` (left | right | tie). Crowd votes have source ``human``
and rater ``llmfao:<worker>``; the GPT-4 file gives ``judge:gpt-4`` votes and,
only when asked, the GPT-3 file ``judge:gpt-3.5`` votes.

Everything is read and checked before anything is written. Prompts, models and
answers are upserted; a battle whose external key is already stored is
skipped, and only new battles get votes (through :func:`arena.votes.store_in`,
which keeps ``pair_counts`` current), so a repeated import adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from arena import votes
from arena.db import dialect_insert
from arena.importers.common import chunks, read_csv
from arena.importers.jsonl import (
    ImportFileError,
    ImportResult,
    existing,
    read_objects,
    write_answers,
    write_models,
    write_prompts,
)
from arena.models import Battle, Model, Prompt, Rater, utcnow

ORIGIN = "import:llmfao"
PROMPT_SET = "llmfao"
COMPARISONS = {  # file stem -> vote source
    "crowd": "human",
    "gpt4": "judge:gpt-4",
    "gpt3": "judge:gpt-3.5",
}
WINNERS = ("left", "right", "tie")


@dataclass
class Comparison:
    row: int
    prompt: int
    left: str
    right: str
    winner: str
    worker: str | None


@dataclass
class LlmfaoData:
    prompts: list[dict]
    models: list[dict]
    answers: list[dict]  # prompt (llmfao id), model (name), text, latency_ms, tokens_per_second
    comparisons: dict[str, list[Comparison]] = field(default_factory=dict)


@dataclass
class LlmfaoSummary:
    prompts: ImportResult
    models: ImportResult
    answers: ImportResult
    battles: dict[str, int]  # per file: battles (and votes) added
    skipped: dict[str, int]  # per file: rows already imported
    raters: int

    def lines(self) -> list[str]:
        out = [str(self.prompts), str(self.models), str(self.answers)]
        for name in self.battles:
            out.append(
                f"{name}-comparisons: {self.battles[name]} battles and votes added "
                f"({COMPARISONS[name]}), {self.skipped[name]} already imported"
            )
        out.append(f"raters: {self.raters} new")
        return out


def prompt_key(prompt_id: int) -> str:
    return f"llmfao:{prompt_id}"


def external_key(name: str, row: int) -> str:
    return f"llmfao:{name}:{row}"


def rater_id(worker: str | None) -> str | None:
    return f"llmfao:{worker}" if worker else None


def _jsonl(path: Path, required: dict[str, tuple]) -> list[tuple[int, dict]]:
    out = []
    for number, obj in read_objects(path):
        for name, kinds in required.items():
            value = obj.get(name)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ImportFileError(
                    path,
                    number,
                    f"field {name!r} is missing or not {'/'.join(k.__name__ for k in kinds)}",
                )
        out.append((number, obj))
    return out


def _number(value) -> float | None:
    return None if value is None or isinstance(value, bool) else float(value)


def read_dir(directory: str | Path, names: tuple[str, ...] = ("crowd", "gpt4")) -> LlmfaoData:
    """Read and check the LLMFAO files in ``directory`` (nothing is written)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImportFileError(directory, None, "not a directory")
    text_types = (str,)
    prompts_raw = _jsonl(
        directory / "prompts.jsonl", {"id": (int,), "text": text_types, "type": text_types}
    )
    models_raw = _jsonl(directory / "models.jsonl", {"id": (int,), "name": text_types})
    results_raw = _jsonl(
        directory / "results.jsonl", {"prompt": (int,), "model": (int,), "result": text_types}
    )
    prompt_ids = {obj["id"] for _, obj in prompts_raw}
    model_names = {obj["id"]: obj["name"] for _, obj in models_raw}
    if len(set(model_names.values())) != len(model_names):
        raise ImportFileError(directory / "models.jsonl", None, "model names are not unique")

    prompts = [
        {
            "key": prompt_key(o["id"]),
            "text": o["text"],
            "category": o["type"],
            "prompt_set": PROMPT_SET,
            "reference": o.get("note"),
        }
        for _, o in prompts_raw
    ]
    models = [{"name": o["name"], "organization": o.get("org")} for _, o in models_raw]
    answers = []
    for number, o in results_raw:
        if o["prompt"] not in prompt_ids:
            raise ImportFileError(
                directory / "results.jsonl", number, f"unknown prompt id {o['prompt']}"
            )
        if o["model"] not in model_names:
            raise ImportFileError(
                directory / "results.jsonl", number, f"unknown model id {o['model']}"
            )
        answers.append(
            {
                "prompt": o["prompt"],
                "model": model_names[o["model"]],
                "text": o["result"],
                "latency_ms": _number(o.get("duration")),
                "tokens_per_second": _number(o.get("rate")),
            }
        )
    data = LlmfaoData(prompts, models, answers)
    known = set(model_names.values())
    for name in names:
        data.comparisons[name] = _read_comparisons(
            directory / f"{name}-comparisons.csv", prompt_ids, known, worker=name == "crowd"
        )
    return data


def _read_comparisons(
    path: Path, prompt_ids: set[int], models: set[str], *, worker: bool
) -> list[Comparison]:
    needed = {"prompt", "winner", "left", "right"} | ({"worker"} if worker else set())
    header, rows = read_csv(path, ImportFileError)
    missing = needed - set(header)
    if missing:
        raise ImportFileError(path, 1, f"missing column(s): {', '.join(sorted(missing))}")
    out = []
    for row, (line, rec) in enumerate(rows):
        try:
            prompt = int(rec["prompt"])
        except (TypeError, ValueError):
            message = f"prompt {rec['prompt']!r} is not an integer"
            raise ImportFileError(path, line, message) from None
        if prompt not in prompt_ids:
            raise ImportFileError(path, line, f"unknown prompt id {prompt}")
        for side in ("left", "right"):
            if rec[side] not in models:
                raise ImportFileError(path, line, f"unknown model {rec[side]!r} ({side})")
        if rec["left"] == rec["right"]:
            raise ImportFileError(path, line, "left and right are the same model")
        if rec["winner"] not in WINNERS:
            raise ImportFileError(
                path, line, f"winner must be one of {', '.join(WINNERS)}, got {rec['winner']!r}"
            )
        who = rec.get("worker") if worker else None
        if worker and not who:
            raise ImportFileError(path, line, "worker is empty")
        out.append(Comparison(row, prompt, rec["left"], rec["right"], rec["winner"], who))
    return out


def _write_raters(conn: Connection, workers: set[str]) -> int:
    ids = {rater_id(w): w for w in sorted(workers)}
    before = existing(conn, Rater.__table__.c.id, ids) if ids else {}
    new = [
        {"id": i, "label": f"LLMFAO crowd worker {w}", "created_at": utcnow()}
        for i, w in ids.items()
        if i not in before
    ]
    if new:
        conn.execute(dialect_insert(conn)(Rater).on_conflict_do_nothing(index_elements=["id"]), new)
    return len(new)


def _write_comparisons(
    conn: Connection,
    name: str,
    rows: list[Comparison],
    prompt_ids: dict[str, int],
    categories: dict[int, str],
    model_ids: dict[str, int],
) -> int:
    """Insert the battles not yet stored and their votes; returns how many were added."""
    source = COMPARISONS[name]
    now = utcnow()
    by_key = {external_key(name, c.row): c for c in rows}
    stored = existing(conn, Battle.__table__.c.external_key, by_key)
    todo = [(key, c) for key, c in by_key.items() if key not in stored]
    if not todo:
        return 0
    params = [
        {
            "prompt_id": prompt_ids[prompt_key(c.prompt)],
            "left_model_id": model_ids[c.left],
            "right_model_id": model_ids[c.right],
            "issued_at": now,
            "rater_id": rater_id(c.worker),
            "origin": ORIGIN,
            "external_key": key,
        }
        for key, c in todo
    ]
    stmt = (
        dialect_insert(conn)(Battle)
        .on_conflict_do_nothing(index_elements=["external_key"])
        .returning(Battle.__table__.c.id, Battle.__table__.c.external_key)
    )
    new_ids = {}
    for chunk in chunks(params, 1000):
        new_ids.update({key: bid for bid, key in conn.execute(stmt, chunk)})
    payloads = []
    for battle, (key, c) in zip(params, todo):
        if key not in new_ids:  # stored meanwhile by someone else: skip its vote
            continue
        payloads.append(
            {
                "battle_id": new_ids[key],
                "choice": c.winner,
                "winner": votes.winner_of(c.winner, c.left, c.right),
                "left_model": c.left,
                "right_model": c.right,
                "left_model_id": battle["left_model_id"],
                "right_model_id": battle["right_model_id"],
                "category": categories[battle["prompt_id"]],
                "source": source,
                "rater_id": battle["rater_id"],
                "rater_group": "",
                "created_at": now,
            }
        )
    return votes.store_in(conn, payloads)


def import_dir(
    engine: Engine, directory: str | Path, *, include_gpt3: bool = False
) -> LlmfaoSummary:
    """Import an LLMFAO directory; safe to run again (it adds only what is new).

    Every file is read and checked first (:class:`ImportFileError` names the
    file and line, and nothing is written); then prompts, models and answers
    are written in one transaction, and each comparisons file in its own.
    """
    names = ("crowd", "gpt4", "gpt3") if include_gpt3 else ("crowd", "gpt4")
    data = read_dir(directory, names)
    with engine.begin() as conn:
        prompts = write_prompts(conn, data.prompts)
        models = write_models(conn, data.models)
        prompt_ids = existing(conn, Prompt.__table__.c.key, (p["key"] for p in data.prompts))
        model_ids = existing(conn, Model.__table__.c.name, (m["name"] for m in data.models))
        answer_rows = []
        for a in data.answers:
            row = {k: v for k, v in a.items() if k not in ("prompt", "model")}
            row["prompt_id"] = prompt_ids[prompt_key(a["prompt"])]
            row["model_id"] = model_ids[a["model"]]
            answer_rows.append(row)
        answers = write_answers(conn, answer_rows)
    categories = {prompt_ids[p["key"]]: p["category"] for p in data.prompts}
    added, skipped, raters = {}, {}, 0
    for name, rows in data.comparisons.items():
        with engine.begin() as conn:
            workers = {c.worker for c in rows if c.worker}
            raters += _write_raters(conn, workers)
            added[name] = _write_comparisons(conn, name, rows, prompt_ids, categories, model_ids)
            skipped[name] = len(rows) - added[name]
    return LlmfaoSummary(prompts, models, answers, added, skipped, raters)
