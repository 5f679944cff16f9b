"""``arena rate`` on files and on the database (real SQLite / PostgreSQL, real rq)."""

from __future__ import annotations

import json
import os
import random

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from arena import db, rating_store, votes
from arena.cli import main
from arena.config import RatingSettings
from arena.models import Battle, Model, Prompt, Rater, RatingSnapshot
from arena.scope import Scope
from tests.conftest import shared_data

KEYS = [
    "model",
    "rating",
    "ci_low",
    "ci_high",
    "rank_ub",
    "tier",
    "battles",
    "wins",
    "losses",
    "ties",
]


def run(args, env=None, **kw):
    result = CliRunner().invoke(main, ["rate", *args], env=env, catch_exceptions=False, **kw)
    return result


def _battles(n=600, seed=0):
    rnd = random.Random(seed)
    strength = {"alpha": 1.0, "beta": 0.4, "gamma": 0.0, "delta": -0.6}
    names = list(strength)
    rows = []
    for k in range(n):
        a, b = rnd.sample(names, 2)
        p = 1 / (1 + 2.718281828 ** (strength[b] - strength[a]))
        u = rnd.random()
        winner = "tie" if u < 0.15 else ("model_a" if u < 0.15 + 0.85 * p else "model_b")
        if rnd.random() < 0.03:
            winner = "tie (bothbad)"
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "winner": winner,
                "tstamp": 1000 + k,
                "category": "coding" if k % 3 == 0 else "chat",
                "source": "human" if k % 4 else "judge:j1",
            }
        )
    return rows


def _write_csv(path, rows, keys=("model_a", "model_b", "winner", "tstamp", "category", "source")):
    with open(path, "w") as fh:
        fh.write(",".join(keys) + "\n")
        for r in rows:
            fh.write(
                ",".join(str(r[k]) if "," not in str(r[k]) else f'"{r[k]}"' for k in keys) + "\n"
            )
    return path


def test_csv_table_json_csv_formats(tmp_path):
    path = _write_csv(tmp_path / "b.csv", _battles())
    res = run(["--input", str(path), "--bootstrap", "100"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].split()[:4] == ["rank", "tier", "model", "rating"]
    assert "alpha" in res.output.splitlines()[2]
    res = run(["--input", str(path), "--bootstrap", "100", "--format", "json"])
    data = json.loads(res.output)
    assert [list(m) for m in data["models"]] == [KEYS] * 4
    ratings_ = [m["rating"] for m in data["models"]]
    assert ratings_ == sorted(ratings_, reverse=True)
    assert data["meta"]["battles"] == 600 and data["meta"]["bootstrap_rounds"] == 100
    assert data["meta"]["input"] == {"file": "b.csv", "format": "csv"}
    assert "bootstrap" not in data
    res = run(["--input", str(path), "--ci", "sandwich", "--format", "csv"])
    lines = res.output.splitlines()
    assert lines[0] == ",".join(KEYS) and len(lines) == 5


def test_scopes_anchor_replicates_and_output_file(tmp_path):
    path = _write_csv(tmp_path / "b.csv", _battles())
    out = tmp_path / "r.json"
    res = run(
        [
            "--input",
            str(path),
            "--bootstrap",
            "50",
            "--format",
            "json",
            "--replicates",
            "--category",
            "coding",
            "--source",
            "human",
            "--anchor",
            "gamma=1200",
            "--output",
            str(out),
        ]
    )
    assert res.exit_code == 0 and res.output == ""
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # like any file the user writes
    data = json.loads(out.read_text())
    assert data["meta"]["scope"] == {"category": "coding", "source": "human", "rater_group": ""}
    assert data["meta"]["battles"] == sum(1 for k in range(600) if k % 3 == 0 and k % 4)
    gamma = next(m for m in data["models"] if m["model"] == "gamma")
    assert gamma["rating"] == 1200.0
    boot = data["bootstrap"]
    assert boot["models"] == [m["model"] for m in data["models"]]
    assert len(boot["ratings"]) == 50 and all(len(r) == 4 for r in boot["ratings"])
    k = boot["models"].index("gamma")
    assert {r[k] for r in boot["ratings"]} == {1200.0}


def test_same_seed_same_bytes(tmp_path):
    path = _write_csv(tmp_path / "b.csv", _battles())
    outs = []
    for name, seed in (("1", "5"), ("2", "5"), ("3", "6")):
        out = tmp_path / f"{name}.json"
        run(
            [
                "--input",
                str(path),
                "--bootstrap",
                "100",
                "--seed",
                seed,
                "--format",
                "json",
                "--replicates",
                "--output",
                str(out),
            ]
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2]


def test_jsonl_fastchat_and_elo(tmp_path):
    rows = _battles(300)
    jl = tmp_path / "b.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fc = tmp_path / "clean_battle.json"
    fc.write_text(json.dumps(rows))
    a = json.loads(run(["--input", str(jl), "--ci", "none", "--format", "json"]).output)
    b = json.loads(run(["--input", str(fc), "--ci", "none", "--format", "json"]).output)
    assert a["models"] == b["models"] and b["meta"]["input"]["format"] == "fastchat-json"
    res = run(["--input", str(jl), "--method", "elo", "--bootstrap", "20", "--format", "json"])
    data = json.loads(res.output)
    assert data["meta"]["method"] == "elo" and data["meta"]["k"] == 4.0
    assert data["meta"]["time_ordered"] is True


def test_davidson_left_advantage(tmp_path):
    rows = _battles()
    for k, r in enumerate(rows):
        r["left"] = r["model_a"] if k % 2 else r["model_b"]
    path = _write_csv(tmp_path / "b.csv", rows, ("model_a", "model_b", "winner", "left"))
    res = run(
        [
            "--input",
            str(path),
            "--method",
            "davidson",
            "--left-advantage",
            "--ci",
            "sandwich",
            "--format",
            "json",
        ]
    )
    params = json.loads(res.output)["meta"]["parameters"]
    assert set(params) >= {"left_advantage", "left_advantage_ci", "tie_nu", "tie_nu_ci"}
    res = run(
        ["--input", str(path), "--method", "davidson", "--left-advantage", "--ci", "sandwich"]
    )
    assert "left advantage" in res.output
    res = run(["--input", str(path), "--left-advantage"])
    assert res.exit_code != 0 and "--method davidson" in res.output


def test_aggregated_dump_and_choix(tmp_path):
    path = shared_data("chatbot-arena-20240814", "chatbotarena_20240814.json")
    res = run(
        [
            "--input",
            str(path),
            "--bootstrap",
            "200",
            "--format",
            "json",
            "--anchor",
            "mixtral-8x7b-instruct-v0.1=1114",
        ]
    )
    data = json.loads(res.output)
    assert data["meta"]["battles"] == 1670250 and len(data["models"]) == 129
    assert data["models"][0]["model"] == "chatgpt-4o-latest"
    assert abs(data["models"][0]["rating"] - 1315.16) < 0.01
    res = run(
        [
            "--input",
            str(path),
            "--ci",
            "none",
            "--solver",
            "choix",
            "--format",
            "json",
            "--anchor",
            "mixtral-8x7b-instruct-v0.1=1114",
        ]
    )
    top = json.loads(res.output)["models"][0]
    assert abs(top["rating"] - data["models"][0]["rating"]) < 1e-5
    res = run(["--input", str(path), "--method", "elo"])
    assert res.exit_code == 1 and "no battle order" in res.output


@pytest.mark.parametrize(
    "content,message",
    [
        ("model_a,model_b,winner\na,b,model_a\na,b,bob\n", "line 3: unknown winner 'bob'"),
        ("model_a,model_b,winner\na,a,tie\n", "line 2: model 'a' plays itself"),
        ("", "the file is empty"),
        ("model_a,model_b,winner\n", "no battles in the file"),
        ("model_a,model_b\na,b\n", "line 1: missing column(s) winner"),
    ],
)
def test_bad_csv(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    res = run(["--input", str(path)])
    assert res.exit_code == 1
    assert f"{path}" in res.output and message in res.output


def test_csv_is_read_line_by_line(tmp_path):
    # CRLF line ends and a byte-order mark are fine; a bad byte names its line.
    good = tmp_path / "crlf.csv"
    good.write_bytes(b"\xef\xbb\xbfmodel_a,model_b,winner\r\na,b,model_a\r\nb,a,tie\r\n")
    res = run(["--input", str(good), "--ci", "none", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["meta"]["battles"] == 2
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(b"model_a,model_b,winner\na,b,model_a\nb,c\xe9,tie\n")
    res = run(["--input", str(bad)])
    assert res.exit_code == 1 and "latin1.csv, line 3: not UTF-8 text" in res.output


def test_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"model_a": "a", "model_b": "b", "winner": "tie"},\n {"model_a": ]')
    res = run(["--input", str(path)])
    assert res.exit_code == 1 and "line 2: broken JSON" in res.output
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"model_a": "a", "model_b": "b", "winner": "tie"}\n{"model_a": "a",\n')
    res = run(["--input", str(jl)])
    assert res.exit_code == 1 and "bad.jsonl, line 2: broken JSON" in res.output
    agg = tmp_path / "agg.json"
    agg.write_text(json.dumps({"models": ["a", "b"], "X": [[0, 0]], "Y": [[1, 2, 0, 0]]}))
    res = run(["--input", str(agg)])
    assert res.exit_code == 1 and "X[0]: model 'a' plays itself" in res.output


def test_disconnected_and_min_battles(tmp_path):
    rows = [
        {"model_a": a, "model_b": b, "winner": w}
        for a, b, w in [
            ("a", "b", "model_a"),
            ("a", "b", "model_b"),
            ("x", "y", "model_a"),
            ("x", "y", "tie"),
            ("a", "b", "tie"),
        ]
    ]
    path = _write_csv(tmp_path / "d.csv", rows, ("model_a", "model_b", "winner"))
    res = run(["--input", str(path), "--ci", "none"])
    assert res.exit_code == 1 and "not connected" in res.output and "a, b" in res.output
    res = run(["--input", str(path), "--ci", "none", "--components", "each", "--format", "json"])
    assert {m["component"] for m in json.loads(res.output)["models"]} == {0, 1}
    res = run(["--input", str(path), "--ci", "none", "--min-battles", "3", "--format", "json"])
    data = json.loads(res.output)
    assert [m["model"] for m in data["models"]] == ["a", "b"]
    assert data["meta"]["excluded"]["models"] == ["x", "y"]
    res = run(["--input", str(path), "--anchor", "oops"])
    assert res.exit_code == 2 and "MODEL=RATING" in res.output


# --- the database ------------------------------------------------------------------------


def _fill_db(url, rows):
    """Models, prompts, raters and battles as rows; votes through the real vote store."""
    engine = db.get_engine(url)
    with Session(engine) as s:
        models = {
            n: Model(name=n)
            for n in sorted({r["model_a"] for r in rows} | {r["model_b"] for r in rows})
        }
        prompts = {c: Prompt(key=f"p-{c}", text="q", category=c) for c in ("coding", "chat")}
        rater = Rater(id="r1", group="expert")
        s.add_all([*models.values(), *prompts.values(), rater])
        s.commit()
        battle_ids = []
        for k, r in enumerate(rows):
            b = Battle(
                prompt_id=prompts[r["category"]].id,
                left_model_id=models[r["model_a"]].id,
                right_model_id=models[r["model_b"]].id,
                rater_id="r1" if k % 5 == 0 else None,
            )
            s.add(b)
            s.flush()
            battle_ids.append(b.id)
        s.commit()
        payloads = []
        for bid, r in zip(battle_ids, rows):
            choice = {
                "model_a": "left",
                "model_b": "right",
                "tie": "tie",
                "tie (bothbad)": "both_bad",
            }[r["winner"]]
            payloads.append(votes.payload_for(s, bid, choice, source=r["source"]))
    votes.store(engine, payloads)
    return engine


def test_database_matches_file_and_store(tmp_path, database_url):
    rows = _battles(400)
    engine = _fill_db(database_url, rows)
    path = _write_csv(tmp_path / "b.csv", rows)
    env = {
        "ARENA_DATABASE_URL": database_url,
        "ARENA_INSTANCE": str(tmp_path / "inst"),
        "ARENA_CONFIG": "",
    }
    # The database's default is human votes only (judge votes are their own source); a file
    # counts every battle in it unless --source narrows it.
    from_db = json.loads(
        run(["--source", "all", "--bootstrap", "100", "--format", "json"], env=env).output
    )
    from_file = json.loads(
        run(["--input", str(path), "--bootstrap", "100", "--format", "json"], env=env).output
    )
    assert from_db["models"] == from_file["models"]
    assert from_db["meta"]["digest"] == from_file["meta"]["digest"]
    human = json.loads(run(["--ci", "none", "--format", "json"], env=env).output)
    assert human["meta"]["battles"] == 300 and human["meta"]["scope"]["source"] == "human"
    human_file = json.loads(
        run(
            ["--input", str(path), "--source", "human", "--ci", "none", "--format", "json"], env=env
        ).output
    )
    assert human_file["models"] == human["models"]
    judge = json.loads(
        run(["--source", "judge:j1", "--ci", "none", "--format", "json"], env=env).output
    )
    assert judge["meta"]["battles"] == 100
    group = json.loads(
        run(["--rater-group", "expert", "--ci", "none", "--format", "json"], env=env).output
    )
    assert group["meta"]["battles"] == 60  # the experts' human votes (80 with the judge's)
    group = json.loads(
        run(
            ["--rater-group", "expert", "--source", "all", "--ci", "none", "--format", "json"],
            env=env,
        ).output
    )
    assert group["meta"]["battles"] == 80
    elo = json.loads(
        run(["--method", "elo", "--bootstrap", "0", "--format", "json"], env=env).output
    )
    assert elo["meta"]["battles"] == 300
    res = run(["--store", "--bootstrap", "100"], env=env)
    assert res.exit_code == 0, res.output
    assert "*/human/*: snapshot" in res.output and "coding/human/*: snapshot" in res.output
    assert "*/judge:j1/*: snapshot" in res.output and "*/human/expert: snapshot" in res.output
    assert "*/*/*: snapshot" in res.output  # every source together
    snap = rating_store.latest_snapshot(engine, "bt", source="")
    assert snap["models"] == from_db["models"]
    assert len(snap["bootstrap"]["ratings"]) == 100 and "created_at" in snap["meta"]
    assert (
        rating_store.latest_snapshot(engine, "bt", category="coding")["meta"]["scope"]["category"]
        == "coding"
    )
    assert rating_store.latest_snapshot(engine, "elo") is None


def test_elo_recompute_matches_each_scope_read_alone(sqlite_url):
    engine = _fill_db(sqlite_url, _battles(200))
    report = rating_store.recompute(engine, RatingSettings(method="elo"))
    stored = {(r["category"], r["source"], r["rater_group"]) for r in report if "snapshot" in r}
    # The default scopes: human votes overall, per category and per group; each judge; and
    # every source together (stored with source "").
    assert stored >= {
        ("", "", ""),
        ("coding", "human", ""),
        ("", "human", ""),
        ("", "judge:j1", ""),
        ("", "human", "expert"),
    }
    for cat, src, grp in stored:
        snap = rating_store.latest_snapshot(engine, "elo", cat, src, grp)
        scope = Scope.from_stored({"category": cat, "source": src, "rater_group": grp})
        alone = rating_store.compute(engine, "elo", scope.category, scope.source, scope.rater_group)
        assert snap["models"] == json.loads(alone.to_json())["models"]
        assert snap["meta"]["battles"] == alone.meta["battles"]


def test_recompute_job_through_rq(tmp_path, rt):
    from rq import SimpleWorker

    engine = _fill_db(rt.settings.database_url, _battles(200))
    rt.settings = rt.settings.replace(rating={"bootstrap": 50})
    q = rt.queue("recompute")
    job = q.enqueue(votes.RECOMPUTE_JOB, job_id=votes.RECOMPUTE_JOB_ID)
    SimpleWorker([q], connection=rt.redis).work(burst=True)
    job.refresh()
    assert job.is_finished, job.latest_result()
    report = job.return_value()
    assert {(r["category"], r["source"]) for r in report} >= {
        ("", ""),
        ("coding", "human"),
        ("", "human"),
        ("", "judge:j1"),
    }
    with Session(engine) as s:
        assert len(s.exec(select(RatingSnapshot)).all()) == len(report)
    snap = rating_store.latest_snapshot(engine, "bt", source="human")
    assert snap["meta"]["bootstrap_rounds"] == 50
    # Old snapshots are pruned to [rating] keep_snapshots per scope.
    rt.settings = rt.settings.replace(rating={"keep_snapshots": 2})
    for _ in range(3):
        rating_store.recompute(engine, rt.settings["rating"], [(None, None, None)])  # human
    with Session(engine) as s:
        overall = s.exec(
            select(RatingSnapshot).where(
                RatingSnapshot.category == "",
                RatingSnapshot.source == "human",
                RatingSnapshot.rater_group == "",
            )
        ).all()
    assert len(overall) == 2


def test_empty_database(tmp_path, sqlite_url):
    env = {
        "ARENA_DATABASE_URL": sqlite_url,
        "ARENA_INSTANCE": str(tmp_path / "inst"),
        "ARENA_CONFIG": "",
    }
    res = run([], env=env)
    assert res.exit_code == 1 and "no votes" in res.output
    res = run(["--store"], env=env)
    assert res.exit_code == 0 and "nothing stored" in res.output


def test_matrices(tmp_path):
    path = _write_csv(tmp_path / "b.csv", _battles())
    res = run(["--input", str(path), "--bootstrap", "100", "--format", "json", "--matrices"])
    data = json.loads(res.output)
    mat = data["matrices"]
    assert mat["models"] == [m["model"] for m in data["models"]]
    p = mat["win_probability"]
    assert p[0][1] > 0.5 and abs(p[0][1] + p[1][0] - 1) < 1e-5
    sig = mat["significantly_above"]
    assert sig[0][3] == 1 and sig[3][0] == 0 and all(sig[k][k] == 0 for k in range(4))


def test_llmfao_positional_layout():
    path = shared_data("llmfao", "crowd-comparisons.csv")
    res = run(
        [
            "--input",
            str(path),
            "--method",
            "davidson",
            "--left-advantage",
            "--ci",
            "sandwich",
            "--format",
            "json",
        ]
    )
    data = json.loads(res.output)
    assert data["meta"]["battles"] == 8931 and data["meta"]["positional"] is True
    assert "positions" not in data["meta"]  # the file records who was shown left
    lo, hi = data["meta"]["parameters"]["left_advantage_ci"]
    assert lo < data["meta"]["parameters"]["left_advantage"] < hi


@pytest.mark.parametrize("method", ["davidson", "elo"])
def test_every_method_is_viewable_and_ranked(tmp_path, sqlite_url, redis_url, redis_conn, method):
    # [rating] method other than bt: the recompute stores that method, and the pages,
    # the API and the composite read it by default (they used to ask for bt: nothing).
    from arena.app import create_app
    from arena.composite_db import load_db_inputs
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path, sqlite_url, redis_url, rating={"method": method, "bootstrap": 20}
    )
    engine = _fill_db(sqlite_url, _battles(200))
    report = rating_store.recompute(engine, settings["rating"], [(None, None, None)])
    assert "snapshot" in report[0], report
    assert rating_store.latest_snapshot(engine, "bt") is None
    assert rating_store.latest_snapshot(engine, method)["meta"]["method"] == method
    client = create_app(settings).test_client()
    res = client.get("/api/v1/leaderboard")
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["meta"]["method"] == method
    assert len(res.get_json()["models"]) == 4
    page = client.get("/leaderboard")
    assert page.status_code == 200 and b"alpha" in page.data
    _, meta = load_db_inputs(engine, settings["rating"]["method"])
    assert meta[0]["scope"]["method"] == method and meta[0]["models"] == 4
    res = client.get("/api/v1/rank")
    assert res.status_code == 200, res.get_json()
    assert {m["model"] for m in res.get_json()["models"]} >= {"alpha", "delta"}


def _env(tmp_path, url):
    return {"ARENA_DATABASE_URL": url, "ARENA_INSTANCE": str(tmp_path / "inst"), "ARENA_CONFIG": ""}


def test_store_honours_the_rating_options(tmp_path, sqlite_url):
    # --store used to drop --anchor, --solver, --components, --left-advantage, --elo-k and
    # the scope filters, and stored no intervals for --ci sandwich.
    engine = _fill_db(sqlite_url, _battles(400))
    env = _env(tmp_path, sqlite_url)

    def stored(*args, method="bt", **scope):
        res = run(["--store", *args], env=env)
        assert res.exit_code == 0, res.output
        return rating_store.latest_snapshot(engine, method, **scope)

    snap = stored(
        "--ci", "sandwich", "--anchor", "beta=1200", "--category", "coding", category="coding"
    )
    meta = snap["meta"]
    assert meta["ci"] == "sandwich" and meta["anchor"] == {"model": "beta", "rating": 1200.0}
    assert meta["scope"] == {"category": "coding", "source": "human", "rater_group": ""}
    beta = next(m for m in snap["models"] if m["model"] == "beta")
    assert beta["rating"] == 1200.0
    assert all(m["ci_low"] < m["ci_high"] for m in snap["models"] if m["model"] != "beta")
    assert rating_store.latest_snapshot(engine, "bt") is None  # only the scope asked for
    snap = stored("--ci", "none", "--solver", "choix", "--components", "each")
    assert snap["meta"]["solver"] == "choix" and snap["meta"]["components"]["policy"] == "each"
    snap = stored("--method", "davidson", "--left-advantage", "--ci", "none", method="davidson")
    assert "left_advantage" in snap["meta"]["parameters"]
    snap = stored("--method", "elo", "--elo-k", "16", "--bootstrap", "10", method="elo")
    assert snap["meta"]["k"] == 16.0 and snap["meta"]["bootstrap_rounds"] == 10
    loose = rating_store.compute(engine, "elo", elo_k=16.0)
    assert [m["rating"] for m in snap["models"]] == list(
        json.loads(loose.to_json())["models"][k]["rating"] for k in range(4)
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--store", "--format", "json"], "--format shape a printed rating"),
        (["--store", "--output", "x.json"], "--output shape a printed rating"),
        (["--store", "--method", "elo", "--components", "each"], "--components does not apply"),
        (["--store", "--elo-k", "8"], "--elo-k needs --method elo"),
        (["--store", "--method", "davidson", "--solver", "choix"], "Bradley-Terry only"),
    ],
)
def test_store_refuses_what_it_cannot_store(tmp_path, sqlite_url, args, message):
    engine = _fill_db(sqlite_url, _battles(100))
    res = run(args, env=_env(tmp_path, sqlite_url))
    assert res.exit_code == 2 and message in res.output
    with Session(engine) as s:
        assert s.exec(select(RatingSnapshot)).all() == []


def test_collector_paused_and_frozen_only_for_the_script(tmp_path):
    """In the test's own process the command leaves the garbage collector as it was; the
    ``arena`` script (a new process) freezes what it made and gives the same output."""
    import gc
    import subprocess
    import sys

    path = _write_csv(tmp_path / "b.csv", _battles(200), keys=("model_a", "model_b", "winner"))
    args = ["--input", str(path), "--bootstrap", "20", "--seed", "3", "--format", "json"]
    frozen = gc.get_freeze_count()
    res = run(args)
    assert res.exit_code == 0, res.output
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    script = subprocess.run(
        [sys.executable, "-m", "arena", "rate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ARENA_CONFIG": ""},
        check=True,
    )
    assert script.stdout == res.output
