"""JSONL importers and the demo set, on real SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlmodel import Session

from arena import db
from arena.cli import main
from arena.importers import demo_set, jsonl
from arena.importers.jsonl import ImportFileError
from arena.models import Answer, Model, Prompt


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row if isinstance(row, str) else json.dumps(row))
            fh.write("\n")
    return path


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


MODELS = [
    {
        "name": "alpha",
        "organization": "Org A",
        "license": "MIT",
        "parameters_b": 7,
        "precision": "bf16",
        "base_model": "base-x",
        "family": "alpha",
        "release_date": "2025-01-31",
        "state": "active",
    },
    {"name": "beta", "state": "provisional"},
]
PROMPTS = [
    {"id": "p1", "text": "What is 2+2?", "category": "math", "reference": "4"},
    {"id": 2, "text": "Write a limerick."},
]
ANSWERS = [
    {
        "prompt": "p1",
        "model": "alpha",
        "text": "4",
        "tokens": 1,
        "latency_ms": 12.5,
        "tokens_per_second": 80,
    },
    {"prompt": "2", "model": "beta", "text": "There once was..."},
]


@pytest.fixture
def engine(database_url):
    return db.get_engine(database_url)


@pytest.fixture
def loaded(engine, tmp_path):
    """The three small files above, imported once."""
    paths = {
        kind: write_jsonl(tmp_path / f"{kind}.jsonl", rows)
        for kind, rows in (("models", MODELS), ("prompts", PROMPTS), ("answers", ANSWERS))
    }
    for kind in ("models", "prompts", "answers"):
        jsonl.import_file(engine, kind, paths[kind])
    return paths


def test_import_stores_every_field(engine, loaded):
    with Session(engine) as s:
        alpha = s.exec(select(Model).where(Model.name == "alpha")).scalars().one()
        assert (
            alpha.organization,
            alpha.license,
            alpha.parameters_b,
            alpha.precision,
            alpha.base_model,
            alpha.family,
            alpha.release_date,
            alpha.state,
        ) == ("Org A", "MIT", 7.0, "bf16", "base-x", "alpha", date(2025, 1, 31), "active")
        beta = s.exec(select(Model).where(Model.name == "beta")).scalars().one()
        assert beta.state == "provisional" and beta.organization is None
        p1 = s.exec(select(Prompt).where(Prompt.key == "p1")).scalars().one()
        assert (p1.text, p1.category, p1.reference, p1.prompt_set) == (
            "What is 2+2?",
            "math",
            "4",
            "default",
        )
        p2 = s.exec(select(Prompt).where(Prompt.key == "2")).scalars().one()
        assert p2.category == "general"
        answer = s.exec(select(Answer).where(Answer.prompt_id == p1.id)).scalars().one()
        assert (
            answer.model_id,
            answer.text,
            answer.tokens,
            answer.latency_ms,
            answer.tokens_per_second,
        ) == (alpha.id, "4", 1, 12.5, 80.0)


def test_reimport_updates_instead_of_duplicating(engine, loaded, tmp_path):
    changed = [dict(MODELS[0], organization="Org B", state="retired"), MODELS[1], {"name": "gamma"}]
    result = jsonl.import_models(engine, write_jsonl(tmp_path / "m2.jsonl", changed))
    assert (result.inserted, result.updated) == (1, 2)
    again = jsonl.import_prompts(engine, loaded["prompts"])
    assert (again.inserted, again.updated) == (0, 2)
    answers = [dict(ANSWERS[0], text="four"), ANSWERS[1]]
    result = jsonl.import_answers(engine, write_jsonl(tmp_path / "a2.jsonl", answers))
    assert (result.inserted, result.updated) == (0, 2)
    assert count(engine, Model.__table__) == 3
    assert count(engine, Prompt.__table__) == 2
    assert count(engine, Answer.__table__) == 2
    with Session(engine) as s:
        alpha = s.exec(select(Model).where(Model.name == "alpha")).scalars().one()
        assert (alpha.organization, alpha.state, alpha.license) == ("Org B", "retired", "MIT")
        texts = sorted(s.exec(select(Answer.text)).scalars())
        assert texts == ["There once was...", "four"]


def test_left_out_fields_are_kept_and_null_clears(engine, loaded, tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [{"name": "alpha", "license": None}])
    jsonl.import_models(engine, path)
    with Session(engine) as s:
        alpha = s.exec(select(Model).where(Model.name == "alpha")).scalars().one()
        assert alpha.license is None
        assert (alpha.organization, alpha.parameters_b) == ("Org A", 7.0)


BAD_MODELS = [
    ('{"name": "x", ', 2, "not valid JSON"),
    ({"organization": "no name"}, 2, "missing required field 'name'"),
    ({"name": "x", "parameters_b": "7B"}, 2, "'parameters_b' must be a number"),
    ({"name": "x", "release_date": "2025-02-30"}, 2, "not a real date"),
    ({"name": "x", "release_date": "31/01/2025"}, 2, "YYYY-MM-DD"),
    ({"name": "x", "state": "deprecated"}, 2, "'state' must be one of"),
    ({"name": "x", "organisation": "typo"}, 2, "unknown field"),
    ({"name": 5}, 2, "'name' must be a string"),
    ('["name", "x"]', 2, "expected a JSON object"),
    ({"name": "ok-1"}, 2, "already on line 1"),
]


@pytest.mark.parametrize("bad,line,message", BAD_MODELS, ids=[m for _, _, m in BAD_MODELS])
def test_bad_model_line_is_reported_and_nothing_written(engine, tmp_path, bad, line, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"name": "ok-1"}, bad, {"name": "ok-2"}])
    with pytest.raises(ImportFileError) as info:
        jsonl.import_models(engine, path)
    assert info.value.line == line
    assert message in str(info.value)
    assert f"line {line}" in str(info.value) and str(path) in str(info.value)
    assert count(engine, Model.__table__) == 0


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"id": "p3"}, "missing required field 'text'"),
        ({"id": "p3", "text": "t", "category": None}, "'category' must not be null"),
        ({"id": "", "text": "t"}, "'id' must not be empty"),
        ({"id": "p3", "text": ["t"]}, "'text' must be a string"),
    ],
)
def test_bad_prompt_line_leaves_stored_rows_alone(engine, loaded, tmp_path, bad, message):
    rows = [{"id": "p1", "text": "CHANGED"}, {"id": "new", "text": "x"}, bad]
    with pytest.raises(ImportFileError, match=message) as info:
        jsonl.import_prompts(engine, write_jsonl(tmp_path / "bad.jsonl", rows))
    assert info.value.line == 3
    assert count(engine, Prompt.__table__) == 2
    with Session(engine) as s:
        assert s.exec(select(Prompt.text).where(Prompt.key == "p1")).scalar_one() == "What is 2+2?"


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"prompt": "nope", "model": "alpha", "text": "t"}, "unknown prompt 'nope'"),
        ({"prompt": "p1", "model": "nobody", "text": "t"}, "unknown model 'nobody'"),
        ({"prompt": "p1", "model": "beta", "text": "t", "tokens": 1.5}, "must be an integer"),
        ({"prompt": "p1", "model": "beta", "text": "t", "latency_ms": -1}, ">= 0"),
        ({"prompt": "p1", "model": "beta"}, "missing required field 'text'"),
    ],
)
def test_bad_answer_line(engine, loaded, tmp_path, bad, message):
    rows = [{"prompt": "2", "model": "alpha", "text": "fine"}, "", bad]
    with pytest.raises(ImportFileError, match=message) as info:
        jsonl.import_answers(engine, write_jsonl(tmp_path / "bad.jsonl", rows))
    assert info.value.line == 3  # the blank line 2 is skipped but still counted
    assert count(engine, Answer.__table__) == 2


def test_cli_reports_counts_and_bad_lines(database_url, tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text(
        f'[arena]\ninstance = "{tmp_path / "inst"}"\n[database]\nurl = "{database_url}"\n'
    )
    runner = CliRunner(env={"ARENA_DATABASE_URL": database_url})
    good = write_jsonl(tmp_path / "models.jsonl", MODELS)
    result = runner.invoke(main, ["import", "models", "--config", str(config), str(good)])
    assert result.exit_code == 0, result.output
    assert "models: 2 inserted, 0 updated" in result.output
    result = runner.invoke(main, ["import", "models", "--config", str(config), str(good)])
    assert "models: 0 inserted, 2 updated" in result.output
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"name": "c"}, {"name": "d", "state": "gone"}])
    result = runner.invoke(main, ["import", "models", "--config", str(config), str(bad)])
    assert result.exit_code != 0
    assert f"{bad}, line 2: field 'state' must be one of" in result.output
    assert "nothing was imported" in result.output
    missing = runner.invoke(
        main, ["import", "prompts", "--config", str(config), str(tmp_path / "absent.jsonl")]
    )
    assert missing.exit_code != 0 and "cannot open" in missing.output
    assert count(db.get_engine(database_url), Model.__table__) == 2


def test_demo_set_keeps_its_promises(engine):
    first = demo_set.load(engine)
    assert first == {"models": 4, "prompts": 12, "answers": 48}
    assert demo_set.load(engine) == first  # idempotent
    with Session(engine) as s:
        models = s.exec(select(Model)).scalars().all()
        prompts = s.exec(select(Prompt)).scalars().all()
        pairs = set(s.exec(select(Answer.prompt_id, Answer.model_id)).all())
        assert len(models) >= 4
        assert len(prompts) == 12
        categories = {p.category for p in prompts}
        assert len(categories) >= 3
        assert all(sum(p.category == c for p in prompts) >= 2 for c in categories)
        assert pairs == {(p.id, m.id) for p in prompts for m in models}
        assert all(m.state in ("active", "provisional") for m in models)  # all can battle
        texts = s.exec(select(Answer.text)).scalars().all()
        assert len(set(texts)) == len(texts)  # every answer written, none copied across
    assert count(engine, Answer.__table__) == 48


def test_the_importers_csv_reader_names_bad_lines(tmp_path):
    from arena.importers.common import FileError, read_csv

    path = tmp_path / "ok.csv"
    path.write_bytes(b"\xef\xbb\xbf a , b \r\n1, x \r\n,\r\n2,y\r\n")
    header, rows = read_csv(path)
    assert header == ["a", "b"] and rows == [(2, {"a": "1", "b": "x"}), (4, {"a": "2", "b": "y"})]
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(FileError, match=r"line 3: 3 fields, header has 2"):
        read_csv(path)
    path.write_bytes(b"a,b\n1,2\n3,\xe9\n")
    with pytest.raises(FileError, match=r"not valid UTF-8"):
        read_csv(path)
    with pytest.raises(ImportFileError, match="file not found"):
        read_csv(tmp_path / "missing.csv", ImportFileError)
