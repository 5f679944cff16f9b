"""``arena import llmfao`` on the real LLMFAO files in ../shared/data/llmfao."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from arena import db
from arena.cli import main
from arena.importers import llmfao
from arena.importers.jsonl import ImportFileError
from arena.models import Answer, Battle, Model, PairCount, Prompt, Rater, Vote
from tests.conftest import shared_data


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def scalar(conn, stmt):
    return conn.execute(stmt).scalar_one()


def counts(conn) -> dict:
    return {
        t.__tablename__: scalar(conn, select(func.count()).select_from(t))
        for t in (Prompt, Model, Answer, Battle, Vote, Rater)
    }


def stored_battles(conn) -> dict:
    """external_key -> (left name, right name, choice, source, rater, category)."""
    left, right = aliased(Model), aliased(Model)
    rows = conn.execute(
        select(
            Battle.external_key,
            left.name,
            right.name,
            Vote.choice,
            Vote.source,
            Vote.rater_id,
            Prompt.category,
            Prompt.key,
        )
        .join(Vote, Vote.battle_id == Battle.id)
        .join(left, left.id == Battle.left_model_id)
        .join(right, right.id == Battle.right_model_id)
        .join(Prompt, Prompt.id == Battle.prompt_id)
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def test_llmfao_import_matches_the_files_and_is_idempotent(database_url):
    directory = shared_data("llmfao")
    engine = db.get_engine(database_url)
    prompts = read_jsonl(directory / "prompts.jsonl")
    models = read_jsonl(directory / "models.jsonl")
    results = read_jsonl(directory / "results.jsonl")
    files = {
        name: read_csv(directory / f"{name}-comparisons.csv") for name in ("crowd", "gpt4", "gpt3")
    }

    first = llmfao.import_dir(engine, directory)
    assert first.battles == {"crowd": len(files["crowd"]), "gpt4": len(files["gpt4"])}
    with engine.connect() as conn:
        n = counts(conn)
        assert n == {
            "prompts": len(prompts),
            "models": len(models),
            "answers": len(results),
            "battles": len(files["crowd"]) + len(files["gpt4"]),
            "votes": len(files["crowd"]) + len(files["gpt4"]),
            "raters": len({r["worker"] for r in files["crowd"]}),
        }
        pair_total = scalar(
            conn,
            select(
                func.sum(
                    PairCount.left_wins + PairCount.right_wins + PairCount.ties + PairCount.both_bad
                )
            ),
        )
        assert pair_total == n["votes"]
        sources = dict(conn.execute(select(Vote.source, func.count()).group_by(Vote.source)).all())
        assert sources == {"human": len(files["crowd"]), "judge:gpt-4": len(files["gpt4"])}
        battles = stored_battles(conn)
        # prompts: category from type, note as reference; answers: duration and rate
        stored_prompts = {
            k: (c, r)
            for k, c, r in conn.execute(select(Prompt.key, Prompt.category, Prompt.reference))
        }
        orgs = dict(conn.execute(select(Model.name, Model.organization)).all())
        answer = conn.execute(
            select(Answer.text, Answer.latency_ms, Answer.tokens_per_second)
            .join(Prompt, Prompt.id == Answer.prompt_id)
            .join(Model, Model.id == Answer.model_id)
            .where(Prompt.key == f"llmfao:{results[0]['prompt']}", Model.name == results[0]["name"])
        ).one()

    assert stored_prompts == {f"llmfao:{p['id']}": (p["type"], p["note"]) for p in prompts}
    assert orgs == {m["name"]: m["org"] for m in models}
    assert tuple(answer) == (results[0]["result"], results[0]["duration"], results[0]["rate"])
    types = {p["id"]: p["type"] for p in prompts}
    for name, source in (("crowd", "human"), ("gpt4", "judge:gpt-4")):
        for row, rec in enumerate(files[name]):
            rater = f"llmfao:{rec['worker']}" if name == "crowd" else None
            # positions as shown, the choice as given, scoped by the prompt's category
            assert battles[f"llmfao:{name}:{row}"] == (
                rec["left"],
                rec["right"],
                rec["winner"],
                source,
                rater,
                types[int(rec["prompt"])],
                f"llmfao:{rec['prompt']}",
            )
    # the crowd's left/right/tie split survives as choices
    assert Counter(v[2] for k, v in battles.items() if k.startswith("llmfao:crowd:")) == Counter(
        r["winner"] for r in files["crowd"]
    )

    second = llmfao.import_dir(engine, directory)
    assert second.battles == {"crowd": 0, "gpt4": 0}
    assert (second.prompts.inserted, second.models.inserted, second.answers.inserted) == (0, 0, 0)
    with engine.connect() as conn:
        assert counts(conn) == n
        assert (
            scalar(
                conn, select(func.sum(PairCount.left_wins + PairCount.right_wins + PairCount.ties))
            )
            == n["votes"]
        )

    third = llmfao.import_dir(engine, directory, include_gpt3=True)
    assert third.battles == {"crowd": 0, "gpt4": 0, "gpt3": len(files["gpt3"])}
    with engine.connect() as conn:
        assert scalar(
            conn, select(func.count()).select_from(Vote).where(Vote.source == "judge:gpt-3.5")
        ) == len(files["gpt3"])
        assert scalar(conn, select(func.count()).select_from(Vote)) == n["votes"] + len(
            files["gpt3"]
        )


def small_llmfao(tmp_path, crowd_rows):
    """A tiny directory in the LLMFAO layout (two prompts, three models)."""
    d = tmp_path / "llmfao"
    d.mkdir()
    lines = {
        "prompts.jsonl": [
            {"id": 1, "text": "Say hi.", "type": "instruct", "slug": "hi", "note": None},
            {"id": 2, "text": "Add 2+2.", "type": "knowledge", "slug": "add", "note": "4"},
        ],
        "models.jsonl": [
            {"id": 10, "name": "M10", "org": "A"},
            {"id": 11, "name": "M11", "org": "B"},
            {"id": 12, "name": "M12", "org": "C"},
        ],
        "results.jsonl": [
            {
                "id": i,
                "prompt": p,
                "model": m,
                "result": f"{p}/{m}",
                "duration": 100.0,
                "rate": 10.0,
            }
            for i, (p, m) in enumerate((p, m) for p in (1, 2) for m in (10, 11, 12))
        ],
    }
    for name, rows in lines.items():
        (d / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    header = "id,prompt,model_x,model_y,worker,winner,left,right\n"
    (d / "crowd-comparisons.csv").write_text(header + "".join(r + "\n" for r in crowd_rows))
    (d / "gpt4-comparisons.csv").write_text(
        "id,prompt,model_x,model_y,winner,left,right\n0,2,10,12,left,M10,M12\n"
    )
    return d


def test_small_directory_imports_with_positions(sqlite_url, tmp_path):
    d = small_llmfao(
        tmp_path,
        ["0,1,10,11,w1,right,M10,M11", "0,1,10,11,w2,tie,M10,M11", "1,2,12,11,w1,left,M12,M11"],
    )
    engine = db.get_engine(sqlite_url)
    summary = llmfao.import_dir(engine, d)
    assert summary.battles == {"crowd": 3, "gpt4": 1} and summary.raters == 2
    with engine.connect() as conn:
        battles = stored_battles(conn)
        winners = dict(
            conn.execute(
                select(Battle.external_key, Vote.winner).join(Vote, Vote.battle_id == Battle.id)
            ).all()
        )
    assert battles["llmfao:crowd:0"][:5] == ("M10", "M11", "right", "human", "llmfao:w1")
    assert battles["llmfao:crowd:2"][:3] == ("M12", "M11", "left")
    assert battles["llmfao:gpt4:0"][:5] == ("M10", "M12", "left", "judge:gpt-4", None)
    assert winners == {
        "llmfao:crowd:0": "M11",
        "llmfao:crowd:1": "tie",
        "llmfao:crowd:2": "M12",
        "llmfao:gpt4:0": "M10",
    }


@pytest.mark.parametrize(
    "row,message",
    [
        ("1,1,10,11,w3,maybe,M10,M11", "winner must be one of"),
        ("1,1,10,11,w3,left,M10,Nobody", "unknown model 'Nobody'"),
        ("1,9,10,11,w3,left,M10,M11", "unknown prompt id 9"),
        ("1,1,10,11,,left,M10,M11", "worker is empty"),
    ],
)
def test_bad_comparison_row_names_its_line_and_writes_nothing(sqlite_url, tmp_path, row, message):
    d = small_llmfao(tmp_path, ["0,1,10,11,w1,right,M10,M11", row])
    engine = db.get_engine(sqlite_url)
    with pytest.raises(ImportFileError, match=message) as info:
        llmfao.import_dir(engine, d)
    assert info.value.line == 3 and info.value.path.endswith("crowd-comparisons.csv")
    with engine.connect() as conn:
        assert set(counts(conn).values()) == {0}


def test_cli_llmfao_gpt3_flag_and_errors(sqlite_url, tmp_path):
    d = small_llmfao(tmp_path, ["0,1,10,11,w1,right,M10,M11"])
    (d / "gpt3-comparisons.csv").write_text(
        "id,prompt,model_x,model_y,winner,left,right\n0,1,11,12,tie,M11,M12\n"
    )
    runner = CliRunner(
        env={"ARENA_DATABASE_URL": sqlite_url, "ARENA_INSTANCE": str(tmp_path / "inst")}
    )
    result = runner.invoke(main, ["import", "llmfao", str(d)])
    assert result.exit_code == 0, result.output
    assert "crowd-comparisons: 1 battles and votes added (human)" in result.output
    assert "gpt3" not in result.output
    result = runner.invoke(main, ["import", "llmfao", "--include-gpt3", str(d)])
    assert "gpt3-comparisons: 1 battles and votes added (judge:gpt-3.5)" in result.output
    assert (
        "crowd-comparisons: 0 battles and votes added (human), 1 already imported" in result.output
    )
    (d / "results.jsonl").write_text('{"prompt": 1, "model": 10}\n')
    result = runner.invoke(main, ["import", "llmfao", str(d)])
    assert result.exit_code != 0
    assert "results.jsonl, line 1: field 'result' is missing" in result.output
