"""``arena rate --style-control`` and LMArena's options, on files and on the database."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from arena import db, votes
from arena.cli import main
from arena.importers.jsonl import import_file
from arena.models import Answer, Battle, RatingSnapshot
from arena.style_store import load_battles
from rating.style import rate_style
from rating.style_features import answer_features

MODELS = {"alpha": 0.8, "beta": 0.4, "gamma": 0.0, "delta": -0.4, "verbose": -0.2}


def run(args, env=None):
    return CliRunner().invoke(main, ["rate", *args], env=env or {"ARENA_CONFIG": ""})


def _answer(model, rnd):
    n = 300 if model == "verbose" else 60
    lines = [f"# Heading {model}"] if rnd.random() < 0.3 else []
    lines += [f"- item **{k}**" for k in range(rnd.randint(0, 3))]
    lines += [" ".join("word" for _ in range(rnd.randint(n // 2, n)))]
    return "\n".join(lines)


def _battles(n=1500, seed=0):
    rnd = random.Random(seed)
    names = list(MODELS)
    rows = []
    for k in range(n):
        a, b = rnd.sample(names, 2)
        ta, tb = _answer(a, rnd), _answer(b, rnd)
        fa, fb = answer_features(ta), answer_features(tb)
        rel = (fa["tokens"] - fb["tokens"]) / (fa["tokens"] + fb["tokens"])
        d = MODELS[a] - MODELS[b] + 1.5 * rel
        p = 1 / (1 + pow(2.718281828, -d))
        u = rnd.random()
        winner = "tie" if u < 0.1 else ("model_a" if u < 0.1 + 0.9 * p else "model_b")
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "winner": winner,
                "judge": f"user{k % 40}",
                "tstamp": 1.7e9 + 300 * k,
                "anony": k % 50 != 0,
                "prompt_hash": "same" if k % 10 == 0 else f"p{k}",
                "conversation_a": [
                    {"role": "user", "content": f"prompt {k}"},
                    {"role": "assistant", "content": ta},
                ],
                "conversation_b": [
                    {"role": "user", "content": f"prompt {k}"},
                    {"role": "assistant", "content": tb},
                ],
                "conv_metadata": {
                    f"sum_assistant_{s}_tokens": f["tokens"] for s, f in (("a", fa), ("b", fb))
                }
                | {
                    f"header_count_{s}": {"h1": f["headers"], "h2": 0}
                    for s, f in (("a", fa), ("b", fb))
                }
                | {
                    f"list_count_{s}": {"ordered": 0, "unordered": f["lists"]}
                    for s, f in (("a", fa), ("b", fb))
                }
                | {
                    f"bold_count_{s}": {"**": f["bold"], "__": 0} for s, f in (("a", fa), ("b", fb))
                },
            }
        )
    return rows


def _write(path, rows, drop=()):
    with open(path, "w") as fh:
        for r in rows:
            fh.write(json.dumps({k: v for k, v in r.items() if k not in drop}) + "\n")
    return path


@pytest.fixture(scope="module")
def rows():
    return _battles()


def test_style_control_from_conv_metadata_finds_the_length_effect(tmp_path, rows):
    path = _write(tmp_path / "b.jsonl", rows)
    res = run(["--input", str(path), "--style-control", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    meta = out["meta"]
    assert meta["style_control"] is True and meta["ci"] == "sandwich"
    assert meta["filters"]["not_anonymous_dropped"] == 30
    assert meta["input"]["features"] == "conv_metadata"
    tokens = meta["style"]["coefficients"]["tokens"]
    assert tokens["ci_low"] > 0.1
    plain = meta["style"]["plain_bt"]
    # plain BT flatters the verbose model; style control takes it down
    row = next(r for r in out["models"] if r["model"] == "verbose")
    assert plain["verbose"]["rating"] > row["rating"] + 20
    assert plain["verbose"]["rank_change"] < 0
    text = run(["--input", str(path), "--style-control"]).output
    assert "vs plain" in text and "style coefficients" in text and "verbose" in text


def test_features_from_the_answers_equal_conv_metadata(tmp_path, rows):
    meta = _write(tmp_path / "m.jsonl", rows, drop=("conversation_a", "conversation_b"))
    conv = _write(tmp_path / "c.jsonl", rows, drop=("conv_metadata",))
    a = json.loads(run(["--input", str(meta), "--style-control", "--format", "json"]).output)
    b = json.loads(run(["--input", str(conv), "--style-control", "--format", "json"]).output)
    assert b["meta"]["input"]["features"] == "answers"
    assert a["models"] == b["models"]
    assert a["meta"]["style"]["coefficients"] == b["meta"]["style"]["coefficients"]


def test_lmarena_options_from_a_file(tmp_path, rows):
    path = _write(tmp_path / "b.jsonl", rows)
    out = json.loads(
        run(
            [
                "--input",
                str(path),
                "--reweight",
                "--dedup",
                "--max-votes-per-rater-day",
                "5",
                "--format",
                "json",
            ]
        ).output
    )
    f = out["meta"]["filters"]
    assert out["meta"]["ci"] == "sandwich" and out["meta"]["style_control"] is False
    assert f["dedup"]["prompts_capped"] == 1 and f["dedup"]["votes_dropped"] > 100
    assert f["rater_day_cap"]["votes_dropped"] > 0
    assert f["reweight"]["m"] == 50
    assert f["votes_kept"] == out["meta"]["battles"]
    boot = json.loads(
        run(
            [
                "--input",
                str(path),
                "--reweight",
                "--ci",
                "bootstrap",
                "--bootstrap",
                "20",
                "--format",
                "json",
            ]
        ).output
    )
    assert boot["meta"]["ci"] == "bootstrap" and boot["meta"]["bootstrap_rounds"] == 20


def test_robustness_column_and_json(tmp_path, rows):
    path = _write(tmp_path / "b.jsonl", rows)
    res = run(["--input", str(path), "--style-control", "--robustness"])
    assert res.exit_code == 0, res.output
    assert "swap" in res.output.splitlines()[0]
    out = json.loads(
        run(["--input", str(path), "--robustness", "--ci", "none", "--format", "json"]).output
    )
    rob = out["meta"]["robustness"]
    assert [e["upper"] for e in rob] == [r["model"] for r in out["models"]][:-1]
    assert all(e["verified"]["swapped"] for e in rob if e["estimate"] is not None)


def test_bad_input_names_row_and_column(tmp_path, rows):
    path = _write(tmp_path / "b.jsonl", rows[:5], drop=("conv_metadata", "conversation_a"))
    res = run(["--input", str(path), "--style-control"])
    assert res.exit_code == 1 and "line 1" in res.output and "no style counts" in res.output
    bad = dict(rows[0], conv_metadata=dict(rows[0]["conv_metadata"], sum_assistant_a_tokens="x"))
    path = _write(tmp_path / "c.jsonl", [rows[1], bad])
    res = run(["--input", str(path), "--style-control"])
    assert res.exit_code == 1 and "line 2" in res.output and "sum_assistant_a_tokens" in res.output
    res = run(["--input", str(path), "--style-control", "--method", "davidson"])
    assert res.exit_code == 2 and "--method bt" in res.output
    res = run(["--store", "--reweight"])
    assert res.exit_code == 2 and "not stored yet" in res.output


# --- the database ------------------------------------------------------------------------


def _fill_db(tmp_path, url, rows):
    """Models, prompts and answers through the JSONL importer; battles and votes."""
    engine = db.get_engine(url)
    rnd = random.Random(1)
    (tmp_path / "models.jsonl").write_text("".join(json.dumps({"name": m}) + "\n" for m in MODELS))
    n_prompts = 60
    (tmp_path / "prompts.jsonl").write_text(
        "".join(
            json.dumps({"id": f"p{k}", "text": f"q{k}", "category": "coding" if k % 2 else "chat"})
            + "\n"
            for k in range(n_prompts)
        )
    )
    (tmp_path / "answers.jsonl").write_text(
        "".join(
            json.dumps({"prompt": f"p{k}", "model": m, "text": _answer(m, rnd)}) + "\n"
            for k in range(n_prompts)
            for m in MODELS
        )
    )
    for kind in ("models", "prompts", "answers"):
        import_file(engine, kind, tmp_path / f"{kind}.jsonl")
    with Session(engine) as s:
        from arena.models import Model, Prompt

        model_id = {m.name: m.id for m in s.exec(select(Model))}
        prompt_id = {p.key: p.id for p in s.exec(select(Prompt))}
        answers = {(a.prompt_id, a.model_id): a for a in s.exec(select(Answer))}
        battle_ids = []
        outcomes = []
        for k, r in enumerate(rows[:600]):
            pid = prompt_id[f"p{k % n_prompts}"]
            la = answer_features(answers[(pid, model_id[r["model_a"]])].text)["tokens"]
            lb = answer_features(answers[(pid, model_id[r["model_b"]])].text)["tokens"]
            d = MODELS[r["model_a"]] - MODELS[r["model_b"]] + 1.5 * (la - lb) / (la + lb)
            choice = "left" if rnd.random() < 1 / (1 + pow(2.718281828, -d)) else "right"
            b = Battle(
                prompt_id=pid,
                left_model_id=model_id[r["model_a"]],
                right_model_id=model_id[r["model_b"]],
            )
            s.add(b)
            s.flush()
            battle_ids.append(b.id)
            outcomes.append(choice)
        s.commit()
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        payloads = [
            votes.payload_for(
                s, bid, c, rater_id=f"r{k % 7}", created_at=t0 + timedelta(minutes=30 * k)
            )
            for k, (bid, c) in enumerate(zip(battle_ids, outcomes))
        ]
    votes.store(engine, payloads)
    return engine


def test_style_control_from_the_database_and_stored_snapshots(tmp_path, database_url, rows):
    engine = _fill_db(tmp_path, database_url, rows)
    with Session(engine) as s:
        stored = s.exec(select(Answer)).all()
        assert stored and all(a.style_tokens == answer_features(a.text)["tokens"] for a in stored)
        assert all(a.style_bold == answer_features(a.text)["bold"] for a in stored)
    battles, _, source = load_battles(engine)
    assert battles.a.size == 600 and source["without_answers"] == 0
    assert source["answers_counted_now"] == 0  # counted when stored, not re-parsed
    env = {
        "ARENA_DATABASE_URL": database_url,
        "ARENA_INSTANCE": str(tmp_path / "inst"),
        "ARENA_CONFIG": "",
    }
    out = json.loads(run(["--style-control", "--format", "json"], env=env).output)
    direct = rate_style(battles)  # the same battles, with the features stored in the database
    assert out["models"] == direct.to_dict()["models"]
    assert out["meta"]["style"]["coefficients"] == direct.meta["style"]["coefficients"]
    assert out["meta"]["input"]["database"] is True
    assert out["meta"]["battles"] == 600
    capped = json.loads(
        run(
            ["--max-votes-per-rater-day", "3", "--dedup", "--ci", "none", "--format", "json"],
            env=env,
        ).output
    )
    assert capped["meta"]["filters"]["rater_day_cap"]["votes_dropped"] > 0
    coding = json.loads(
        run(["--style-control", "--category", "coding", "--format", "json"], env=env).output
    )
    assert coding["meta"]["battles"] == 300
    res = CliRunner().invoke(
        main, ["rate", "--store", "--bootstrap", "10", "--style-control"], env=env
    )
    assert res.exit_code == 0, res.output
    assert "[bt-style]" in res.output
    with Session(engine) as s:
        snaps = s.exec(select(RatingSnapshot).where(RatingSnapshot.method == "bt-style")).all()
        assert {(x.category) for x in snaps} == {"", "chat", "coding"}
        payload = json.loads(next(x for x in snaps if x.category == "").payload)
        assert payload["meta"]["style_control"] is True and "style" in payload["meta"]


def test_answers_stored_before_the_columns_are_counted_once(tmp_path, sqlite_url, rows):
    engine = _fill_db(tmp_path, sqlite_url, rows)
    with engine.begin() as conn:
        conn.execute(Answer.__table__.update().values(style_tokens=None))
    _, _, source = load_battles(engine)
    assert source["answers_counted_now"] == 5 * 60
    _, _, source = load_battles(engine)
    assert source["answers_counted_now"] == 0


def test_the_recompute_job_stores_bt_style_snapshots_when_the_setting_is_on(
    tmp_path, sqlite_url, rows, redis_url
):
    from arena import runtime
    from arena.rating_store import latest_snapshot
    from tests.conftest import make_settings
    from workers.recompute import recompute_ratings

    engine = _fill_db(tmp_path, sqlite_url, rows)
    off = make_settings(tmp_path, sqlite_url, redis_url, rating={"bootstrap": 10})
    assert off["rating"]["style_control"] is False
    runtime.configure(off)
    report = recompute_ratings()
    assert report and not any(r.get("method") == "bt-style" for r in report)
    assert latest_snapshot(engine, method="bt-style") is None
    on = make_settings(
        tmp_path, sqlite_url, redis_url, rating={"bootstrap": 10, "style_control": True}
    )
    runtime.configure(on)
    report = recompute_ratings()
    styled = [r for r in report if r.get("method") == "bt-style"]
    assert {r["category"] for r in styled} == {"", "chat", "coding"}
    snap = latest_snapshot(engine, method="bt-style")
    assert snap["meta"]["style_control"] is True and snap["meta"]["ci"] == "sandwich"
    assert set(snap["meta"]["style"]["coefficients"]) == {"tokens", "headers", "lists", "bold"}


def test_parquet_in_lmarenas_shape(tmp_path, rows):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    keep = ("model_a", "model_b", "winner", "judge", "tstamp", "anony", "conv_metadata")
    table = pa.Table.from_pylist([{k: r[k] for k in keep} for r in rows])
    pq.write_table(table, tmp_path / "b.parquet")
    path = _write(tmp_path / "b.jsonl", [{k: r[k] for k in keep} for r in rows])
    a = json.loads(
        run(["--input", str(tmp_path / "b.parquet"), "--style-control", "--format", "json"]).output
    )
    b = json.loads(run(["--input", str(path), "--style-control", "--format", "json"]).output)
    assert a["models"] == b["models"]
    assert a["meta"]["style"]["coefficients"] == b["meta"]["style"]["coefficients"]


def test_llmfao_positional_file_with_the_per_battle_options():
    from tests.conftest import shared_data

    path = shared_data("llmfao", "crowd-comparisons.csv")
    args = ["--input", str(path), "--dedup", "--robustness", "--ci", "none", "--format", "json"]
    out = json.loads(run(args).output)
    meta = out["meta"]
    assert meta["battles"] == 8931 - meta["filters"]["dedup"]["votes_dropped"]
    assert meta["filters"]["dedup"]["threshold"] is not None
    assert len(meta["robustness"]) == len(out["models"]) - 1
    res = run(["--input", str(path), "--max-votes-per-rater-day", "5"])
    assert res.exit_code == 1 and "needs the time of each vote" in res.output
