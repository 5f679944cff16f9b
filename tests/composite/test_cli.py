"""``arena rank`` and ``arena import benchmarks|popularity|aliases`` end to end."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlmodel import Session

from arena import db
from arena.cli import main
from arena.models import Alias, Answer, BenchmarkScore, Model, Popularity, Prompt, RatingSnapshot
from tests.conftest import shared_data

LB = "open-llm-leaderboard-2025-03-15"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def config_for(tmp_path, url):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[arena]\ninstance = "{tmp_path / "instance"}"\n[database]\nurl = "{url}"\n')
    return cfg


def no_db_config(tmp_path):
    # files mode must not need a database: point the settings at a path that cannot exist
    return config_for(tmp_path, "sqlite:////nonexistent-dir/never.db")


def test_rank_on_files_alone(tmp_path):
    cfg = no_db_config(tmp_path)
    out = tmp_path / "rank.json"
    res = run(
        "rank",
        "--config",
        cfg,
        "--ratings",
        shared_data(LB, "lmsys.csv"),
        "--benchmarks",
        shared_data(LB, "merged.csv"),
        "--popularity",
        shared_data(LB, "merged.csv"),
        "--weight",
        "recency=0",
        "--weight",
        "efficiency=0",
        "--min-coverage",
        "1",
        "--as-of",
        "2025-03-15",
        "--replicates",
        "100",
        "--format",
        "json",
        "--output",
        out,
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data) == {"meta", "models"}
    meta = data["meta"]
    assert meta["mode"] == "files"
    assert meta["weights"] == pytest.approx(
        {"arena": 0.5 / 0.9, "benchmarks": 0.3 / 0.9, "popularity": 0.1 / 0.9}
    )
    assert meta["normalization"] == "minmax"
    kinds = {i["kind"]: i for i in meta["inputs"]}
    assert kinds["ratings"]["format"] == "lmsys-csv"
    assert kinds["benchmarks"]["digest"].startswith("sha256:")
    assert len(kinds["benchmarks"]["digest"]) == len("sha256:") + 64
    # merged.csv joins 52 arena models; 3 of its joins cross organizations and are refused
    assert len(data["models"]) == 49
    with open(shared_data(LB, "lmsys.csv")) as fh:
        arena_models = len(list(csv.DictReader(fh)))
    assert len(meta["missing"]["benchmarks"]) == arena_models - 49
    # other org/name ids of the same name stay separate and are reported
    assert sorted(meta["missing"]["arena"]) == [
        "AI-Sweden-Models/Llama-3-8B-instruct",
        "huggyllama/llama-13b",
        "jebish7/aya-expanse-8b",
        "jebish7/gemma-2-2b-it",
        "jebish7/gemma-2-9b-it",
        "teknium/OpenHermes-2.5-Mistral-7B",
        "unsloth/Phi-3-mini-4k-instruct",
        "unsloth/phi-4",
    ]
    assert {
        "name": "Llama-3-8B-Instruct",
        "candidate": "AI-Sweden-Models/Llama-3-8B-instruct",
        "why": "organization Meta is not AI-Sweden-Models: add an alias to join",
    } in meta["refused_matches"]
    assert len(meta["ambiguous_names"]) == 5
    first = data["models"][0]
    assert set(first) >= {
        "model",
        "score",
        "ci_low",
        "ci_high",
        "rank",
        "rank_ub",
        "tier",
        "coverage",
        "signals",
    }
    assert set(first["signals"]["arena"]) >= {"raw", "normalized", "weight"}
    assert first["ci_low"] <= first["score"] <= first["ci_high"]
    assert [m["rank"] for m in data["models"]] == sorted(m["rank"] for m in data["models"])
    # same inputs and seed: same output
    out2 = tmp_path / "rank2.json"
    run(
        "rank",
        "--config",
        cfg,
        "--ratings",
        shared_data(LB, "lmsys.csv"),
        "--benchmarks",
        shared_data(LB, "merged.csv"),
        "--popularity",
        shared_data(LB, "merged.csv"),
        "--weight",
        "recency=0",
        "--weight",
        "efficiency=0",
        "--min-coverage",
        "1",
        "--as-of",
        "2025-03-15",
        "--replicates",
        "100",
        "--format",
        "json",
        "--output",
        out2,
    )
    assert json.loads(out2.read_text())["models"] == data["models"]


def test_rank_table_csv_and_explain(tmp_path):
    cfg = no_db_config(tmp_path)
    common = [
        "rank",
        "--config",
        cfg,
        "--ratings",
        shared_data(LB, "lmsys.csv"),
        "--benchmarks",
        shared_data(LB, "merged.csv"),
        "--weight",
        "arena=0.7",
        "--weight",
        "benchmarks=0.3",
        "--weight",
        "popularity=0",
        "--weight",
        "recency=0",
        "--weight",
        "efficiency=0",
        "--min-coverage",
        "0",
        "--replicates",
        "50",
    ]
    table = run(*common)
    assert table.exit_code == 0
    assert "Grok-3-Preview-02-24" in table.output
    assert "not in benchmarks: 128 of 185" in table.output
    rows = list(csv.DictReader(run(*common, "--format", "csv").output.splitlines()))
    assert len(rows) == 185 and rows[0]["rank"] == "1"
    text = run(*common, "--explain", "gemma-2-27b-it").output
    assert text.startswith("Gemma-2-27B-it: score")
    assert "arena" in text and "benchmarks" in text and "rank without it" in text
    bad = run(*common, "--explain", "no-such-model")
    assert bad.exit_code != 0 and "not in the pool" in bad.output


def test_rank_tier_mode_and_vram_filter_on_files(tmp_path):
    cfg = no_db_config(tmp_path)
    res = run(
        "rank",
        "--config",
        cfg,
        "--ratings",
        shared_data(LB, "lmsys.csv"),
        "--models",
        shared_data(LB, "merged.csv"),
        "--weight",
        "arena=1",
        "--weight",
        "benchmarks=0",
        "--weight",
        "popularity=0",
        "--weight",
        "recency=0",
        "--weight",
        "efficiency=0",
        "--arena-mode",
        "tier",
        "--max-vram-gb",
        "24",
        "--replicates",
        "50",
        "--format",
        "json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["models"] and all(m["vram_gb"] <= 24 for m in data["models"])
    by_tier = {}
    for m in data["models"]:
        by_tier.setdefault(m["signals"]["arena"]["raw"]["tier"], set()).add(
            m["signals"]["arena"]["normalized"]
        )
    assert all(len(v) == 1 for v in by_tier.values())  # one value per arena tier
    assert any("VRAM unknown" in e["reason"] for e in data["meta"]["excluded"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--weight", "vibes=1"], "unknown signal 'vibes'"),
        (["--weight", "arena"], "is not SIGNAL=W"),
        (["--normalize", "rank"], "Invalid value for '--normalize'"),
    ],
)
def test_rank_bad_options(tmp_path, args, message):
    res = run(
        "rank", "--config", no_db_config(tmp_path), "--ratings", shared_data(LB, "lmsys.csv"), *args
    )
    assert res.exit_code == 2 and message in res.output


def test_rank_bad_file_names_the_line(tmp_path):
    bad = tmp_path / "b.csv"
    bad.write_text("model,benchmark,score\nA,gpqa,0.5\nB,gpqa,lots\n")
    res = run("rank", "--config", no_db_config(tmp_path), "--benchmarks", bad)
    assert res.exit_code == 1
    assert f"{bad}, line 3: column 'score' is not a number" in res.output


def _count(url, table):
    with Session(db.get_engine(url)) as s:
        return s.exec(select(func.count()).select_from(table)).scalar_one()


def _snapshot_payload(names, ratings, rng):
    reps = np.asarray(ratings) + rng.normal(0, 8, size=(60, len(names)))
    models = [
        {
            "model": n,
            "rating": float(r),
            "ci_low": float(r - 15),
            "ci_high": float(r + 15),
            "rank_ub": 1,
            "tier": 1,
            "battles": 10,
            "wins": 5,
            "losses": 5,
            "ties": 0,
        }
        for n, r in zip(names, ratings)
    ]
    return {
        "meta": {"method": "bt"},
        "models": models,
        "bootstrap": {"models": names, "ratings": reps.round(3).tolist()},
    }


def test_import_then_rank_on_a_database(tmp_path, sqlite_url):
    cfg = config_for(tmp_path, sqlite_url)
    bench = tmp_path / "bench.csv"
    bench.write_text(
        "model,benchmark,subtask,score,n_items\n"
        "acme/alpha-7b,gpqa,,0.40,1192\nacme/alpha-7b,math,,0.30,1324\n"
        "beta-13b,gpqa,,0.30,1192\nbeta-13b,math,,0.10,1324\n"
        "gamma,gpqa,,0.50,1192\n"
    )
    pop = tmp_path / "pop.csv"
    pop.write_text(
        "model,downloads,likes,date\nALPHA-7B,5000,40,2025-03-01\nb13,100,2,2025-03-01\n"
    )
    ali = tmp_path / "aliases.csv"
    ali.write_text("alias,model\nb13,Beta-13B\n")
    for kind, path in (("benchmarks", bench), ("popularity", pop), ("aliases", ali)):
        res = run("import", kind, "--config", cfg, path)
        assert res.exit_code == 0, res.output
        assert " inserted, 0 updated" in res.output
    # importing again updates, never duplicates
    again = run("import", "benchmarks", "--config", cfg, bench)
    assert "benchmarks (long): 0 inserted, 5 updated" in again.output
    assert _count(sqlite_url, BenchmarkScore) == 5
    assert _count(sqlite_url, Popularity) == 2 and _count(sqlite_url, Alias) == 1
    # a bad file stores nothing
    bad = tmp_path / "bad.csv"
    bad.write_text("model,benchmark,score\nnew-model,gpqa,0.5\nnew-model,math,2\n")
    res = run("import", "benchmarks", "--config", cfg, bad)
    assert res.exit_code == 1 and "line 3: score 2.0 outside [0, 1]" in res.output
    assert _count(sqlite_url, BenchmarkScore) == 5

    names = ["Alpha-7B", "Beta-13B", "Delta"]
    payload = _snapshot_payload(names, [1150.0, 1100.0, 1000.0], np.random.default_rng(3))
    with Session(db.get_engine(sqlite_url)) as s:
        s.add(Model(name="Alpha-7B", organization="Acme", parameters_b=7, precision="bf16"))
        s.add(Model(name="Beta-13B", parameters_b=13, precision="int4"))
        s.add(
            RatingSnapshot(
                method="bt",
                source="human",
                digest="sha256:test",
                votes=30,
                payload=json.dumps(payload),
            )
        )
        s.commit()
        prompt = Prompt(key="p1", text="Say hi")
        s.add(prompt)
        s.commit()
        ids = {m.name: m.id for m in s.exec(select(Model)).scalars()}
        s.add(
            Answer(
                prompt_id=prompt.id,
                model_id=ids["Alpha-7B"],
                text="hi",
                tokens_per_second=40.0,
                latency_ms=900.0,
            )
        )
        s.add(
            Answer(
                prompt_id=prompt.id,
                model_id=ids["Beta-13B"],
                text="hello",
                tokens_per_second=10.0,
                latency_ms=3000.0,
            )
        )
        s.commit()
    res = run(
        "rank", "--config", cfg, "--format", "json", "--as-of", "2025-03-15", "--min-coverage", "0"
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    meta = data["meta"]
    assert meta["mode"] == "database"
    ratings = next(i for i in meta["inputs"] if i["kind"] == "ratings")
    assert ratings["bootstrap_replicates"] == 60 and ratings["digest"] == "sha256:test"
    assert meta["arena_replicates"].startswith("bootstrap (60 rows")
    rows = {m["model"]: m for m in data["models"]}
    assert set(rows) == {"Alpha-7B", "Beta-13B", "Delta", "gamma"}
    assert rows["Beta-13B"]["signals"]["popularity"]["raw"] == {"downloads": 100, "likes": 2}
    assert rows["Alpha-7B"]["signals"]["benchmarks"]["raw"] is not None
    assert rows["Alpha-7B"]["goodness"]["ci_low"] < rows["Alpha-7B"]["goodness"]["ci_high"]
    assert meta["missing"]["benchmarks"] == ["Delta"]
    assert meta["missing"]["arena"] == ["gamma"]
    # gamma has benchmarks only: scored over them, with its coverage shown
    # recency has no data for anyone: coverage is over the other 0.95 of the weight
    assert rows["gamma"]["coverage"] == pytest.approx(0.3 / 0.95, abs=1e-6)
    assert meta["signals_without_data"] == ["recency"]
    res = run("rank", "--config", cfg, "--format", "json", "--min-coverage", "0.5")
    strict = json.loads(res.output)
    assert next(m["model"] for m in strict["models"]) == "Alpha-7B"
    assert {"model": "gamma", "reason": "coverage 0.316 below the minimum 0.5"} in strict["meta"][
        "excluded"
    ]
    assert rows["Beta-13B"]["vram_gb"] == pytest.approx(7.8)
    # efficiency from the stored answers: Alpha is faster on both counts
    assert rows["Alpha-7B"]["signals"]["efficiency"]["raw"] == {
        "tokens_per_second": 40.0,
        "latency_ms": 900.0,
        "price_per_mtok": None,
    }
    assert rows["Alpha-7B"]["fastness"]["value"] == 1.0
    assert rows["Beta-13B"]["fastness"]["value"] == 0.0
    joined = {(j["input"], j["name"]): j for j in meta["matched_names"]}
    assert joined["benchmarks", "acme/alpha-7b"]["model"] == "Alpha-7B"
    assert joined["benchmarks", "acme/alpha-7b"]["why"] == (
        "same name after the organization; organization Acme ~ acme"
    )
    # category sub-rank with no snapshot for the category: said, not silently empty
    res = run("rank", "--config", cfg, "--category", "math", "--format", "json")
    data = json.loads(res.output)
    assert any(i.get("note") == "no rating snapshot for this scope" for i in data["meta"]["inputs"])
    assert data["meta"]["category_benchmarks"] == ["gsm8k", "math"]


def test_import_upsert_on_every_backend(tmp_path, database_url):
    """Upsert semantics on SQLite and (when configured) PostgreSQL."""
    cfg = config_for(tmp_path, database_url)
    pop = tmp_path / "pop.csv"
    pop.write_text("model,downloads,likes\nA,1,2\nB,3,4\n")
    assert "2 inserted, 0 updated" in run("import", "popularity", "--config", cfg, pop).output
    pop.write_text("model,downloads,likes\nA,10,20\nC,5,\n")
    assert "1 inserted, 1 updated" in run("import", "popularity", "--config", cfg, pop).output
    with Session(db.get_engine(database_url)) as s:
        got = {p.model: (p.downloads, p.likes) for p in s.exec(select(Popularity)).scalars()}
    assert got == {"A": (10, 20), "B": (3, 4), "C": (5, None)}


def test_rate_json_with_replicates_feeds_rank_and_llmfao_fastness(tmp_path):
    """Real pipeline on LLMFAO: `arena rate --replicates` JSON, then `arena rank` with the
    answers' speed as the efficiency signal."""
    cfg = no_db_config(tmp_path)
    battles = tmp_path / "battles.csv"
    with (
        open(shared_data("llmfao", "crowd-comparisons.csv"), newline="") as fh,
        open(battles, "w", newline="") as out,
    ):
        writer = csv.writer(out)
        writer.writerow(["model_a", "model_b", "winner"])
        for r in csv.DictReader(fh):
            writer.writerow(
                [
                    r["left"],
                    r["right"],
                    {"left": "model_a", "right": "model_b", "tie": "tie"}[r["winner"]],
                ]
            )
    ratings = tmp_path / "ratings.json"
    res = run(
        "rate",
        "--config",
        cfg,
        "--input",
        battles,
        "--format",
        "json",
        "--replicates",
        "--bootstrap",
        "40",
        "--output",
        ratings,
    )
    assert res.exit_code == 0, res.output
    res = run(
        "rank",
        "--config",
        cfg,
        "--ratings",
        ratings,
        "--efficiency",
        shared_data("llmfao", "results.jsonl"),
        "--weight",
        "arena=0.8",
        "--weight",
        "efficiency=0.2",
        "--weight",
        "benchmarks=0",
        "--weight",
        "popularity=0",
        "--weight",
        "recency=0",
        "--min-coverage",
        "1",
        "--replicates",
        "40",
        "--format",
        "json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    rated = json.loads(ratings.read_text())
    assert data["meta"]["arena_replicates"] == "bootstrap (40 rows in the input, 40 used)"
    assert len(data["models"]) == len(rated["models"])  # every rated model has speed facts
    top = data["models"][0]
    assert (
        top["fastness"] is not None and top["signals"]["efficiency"]["raw"]["tokens_per_second"] > 0
    )
    assert all(m["ci_low"] <= m["score"] <= m["ci_high"] for m in data["models"])
    info = json.loads(
        run(
            "rank",
            "--config",
            cfg,
            "--ratings",
            ratings,
            "--weight",
            "arena=1",
            "--weight",
            "benchmarks=0",
            "--weight",
            "popularity=0",
            "--weight",
            "recency=0",
            "--weight",
            "efficiency=0",
            "--format",
            "json",
            "--explain",
            top["model"],
        ).output
    )
    assert info["model"] == top["model"] and info["signals"][0]["signal"] == "arena"
