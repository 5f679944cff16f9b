"""Battle files read column by column: today's layouts and LMArena's releases, in CSV, JSONL
and Parquet, with the row and column of a bad value named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from arena.battle_files import BattleFileError, read
from arena.cli import main

WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)", "model_a", "model_b"]


def lmarena_rows(n=60):
    """Battles shaped like LMArena's 100k release (one conversation turn each)."""
    rng = np.random.default_rng(7)
    names = ["gpt-4o", "claude-3-5", "llama-3-70b", "gemma-2"]
    rows = []
    for k in range(n):
        a, b = rng.choice(4, 2, replace=False)
        rows.append(
            {
                "question_id": f"q{k}",
                "model_a": names[a],
                "model_b": names[b],
                "winner": WINNERS[k % len(WINNERS)],
                "conversation_a": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello " * (k + 1)},
                ],
                "conversation_b": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hey"},
                ],
                "turn": 1,
                "anony": True,
                "language": "English" if k % 2 else "German",
                "tstamp": 1_700_000_000.0 + (n - k),  # file order is the reverse of time
                "conv_metadata": {
                    "sum_user_tokens": 2,
                    "sum_assistant_a_tokens": 10 + k,
                    "sum_assistant_b_tokens": 5,
                    "context_a_tokens": 2,
                    "context_b_tokens": 2,
                    "turns": 1,
                    "header_count_a": {f"h{i}": int(i == 1 and k % 3 == 0) for i in range(1, 7)},
                    "header_count_b": {f"h{i}": 0 for i in range(1, 7)},
                    "list_count_a": {"ordered": k % 2, "unordered": 1},
                    "list_count_b": {"ordered": 0, "unordered": 0},
                    "bold_count_a": {"**": 2, "__": 1},
                    "bold_count_b": {"**": 0, "__": 0},
                },
                "is_code": k % 4 == 0,
                "is_refusal": False,
                "category_tag": {
                    "criteria_v0.1": {
                        "specificity": k % 2 == 0,
                        "domain_knowledge": True,
                        "complexity": False,
                        "problem_solving": k % 3 == 0,
                        "creativity": False,
                        "technical_accuracy": True,
                        "real_world": True,
                    },
                    "if_v0.1": {"if": k % 5 == 0, "score": 3},
                    "math_v0.1": {"math": k % 3 == 0},
                    "creative_writing_v0.1": {"creative_writing": False, "score": "no"},
                },
            }
        )
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_parquet(path, rows, timestamp=False):
    frame = pl.DataFrame(rows)
    if timestamp:  # the 140k release: a datetime "timestamp" and "both_bad"
        frame = frame.with_columns(
            timestamp=pl.Series(
                [datetime.fromtimestamp(r["tstamp"], UTC) for r in rows]
            ).dt.replace_time_zone(None),
            winner=frame["winner"].replace({"tie (bothbad)": "both_bad"}),
        ).drop("tstamp")
    frame.write_parquet(path)
    return path


def write_csv(path, rows):
    flat = [
        {
            **{k: v for k, v in r.items() if not isinstance(v, (dict, list))},
            "conv_metadata": json.dumps(r["conv_metadata"]),
            "category_tag": json.dumps(r["category_tag"]),
        }
        for r in rows
    ]
    pl.DataFrame(flat).write_csv(path)
    return path


@pytest.fixture
def rows():
    return lmarena_rows()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "parquet-140k", "csv"])
def test_lmarena_layouts(tmp_path, rows, fmt):
    writer = {
        "jsonl": write_jsonl,
        "parquet": write_parquet,
        "parquet-140k": lambda p, r: write_parquet(p, r, timestamp=True),
        "csv": write_csv,
    }[fmt]
    path = writer(tmp_path / f"battles.{fmt.split('-')[0]}", rows)
    b = read(path)
    assert b.format == fmt.split("-")[0] and b.battles == len(rows)
    assert b.table.models == ("claude-3-5", "gemma-2", "gpt-4o", "llama-3-70b")
    pairs = b.table.select()
    assert pairs.total == len(rows)
    assert pairs.counts[:, 3].sum() == sum(r["winner"] == "tie (bothbad)" for r in rows)
    seq = b.sequence
    assert seq["time_ordered"] and not seq["left_recorded"]
    # Time order: the file is newest first, so the sequence is the file reversed.
    last = rows[0]
    assert b.table.models[seq["left"][-1]] == last["model_a"]
    # Category flags from category_tag and is_code, as categories.
    assert {"math", "if", "specificity", "creative_writing", "is_code"} <= set(b.flags)
    math = [r for r in rows if r["category_tag"]["math_v0.1"]["math"]]
    assert b.select("math").total == len(math)
    assert b.select("is_code").total == sum(r["is_code"] for r in rows)
    # Style counts, nested ones summed, in sequence order.
    style = b.style
    assert set(style) == {
        f"{s}_{side}" for s in ("header_count", "list_count", "bold_count") for side in "ab"
    } | {"sum_assistant_a_tokens", "sum_assistant_b_tokens"}
    first = rows[-1]  # the oldest battle
    assert style["sum_assistant_a_tokens"][0] == first["conv_metadata"]["sum_assistant_a_tokens"]
    assert style["bold_count_a"][0] == 3 and style["bold_count_b"][0] == 0
    assert style["list_count_a"][0] == 1 + (len(rows) - 1) % 2


def test_layouts_agree_and_rate(tmp_path, rows):
    paths = [
        write_jsonl(tmp_path / "b.jsonl", rows),
        write_parquet(tmp_path / "b.parquet", rows),
        write_csv(tmp_path / "b.csv", rows),
    ]
    out = []
    for path in paths:
        res = CliRunner().invoke(
            main,
            ["rate", "--input", str(path), "--ci", "none", "--format", "json", "--method", "elo"],
        )
        assert res.exit_code == 0, res.output
        out.append(json.loads(res.output))
    assert out[0]["models"] == out[1]["models"] == out[2]["models"]
    res = CliRunner().invoke(
        main,
        [
            "rate",
            "--input",
            str(paths[1]),
            "--ci",
            "none",
            "--format",
            "json",
            "--category",
            "math",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["meta"]["battles"] == sum(
        r["category_tag"]["math_v0.1"]["math"] for r in rows
    )


def test_one_hot_winner_columns_of_the_55k_release(tmp_path):
    path = tmp_path / "55k.csv"
    path.write_text(
        "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
        '1,a,b,"[""hi""]","[""x""]","[""y""]",1,0,0\n'
        '2,b,c,"[""hi""]","[""x""]","[""y""]",0,0,1\n'
        '3,c,a,"[""hi""]","[""x""]","[""y""]",0,1,0\n'
    )
    b = read(path)
    pairs = b.table.select()
    assert pairs.total == 3 and pairs.counts[:, 2].sum() == 1
    assert list(b.sequence["outcome"]) == [0, 2, 1]


def test_bad_rows_name_row_and_column(tmp_path, rows):
    bad = [dict(r) for r in rows[:5]]
    bad[2]["winner"] = "bob"
    with pytest.raises(BattleFileError, match=r"row 3: unknown winner 'bob'"):
        read(write_parquet(tmp_path / "bad.parquet", bad))
    with pytest.raises(BattleFileError, match=r"line 3: unknown winner 'bob'"):
        read(write_jsonl(tmp_path / "bad.jsonl", bad))
    bad[2]["winner"] = "tie"
    bad[3]["tstamp"] = "soon"
    with pytest.raises(BattleFileError, match=r"line 5: tstamp 'soon' is not a number or a date"):
        read(write_csv(tmp_path / "bad.csv", bad))
    # A quoted cell over two lines: the line named is where the bad row starts.
    path = tmp_path / "multi.csv"
    path.write_text('model_a,model_b,winner,weight\n"a\nx",b,tie,1\nb,c,tie,-2\n')
    with pytest.raises(BattleFileError, match=r"line 4: weight '-2' is not a non-negative number"):
        read(path)
    path = tmp_path / "wide.csv"
    path.write_text("model_a,model_b,winner\na,b,tie\na,b,tie,extra\n")
    with pytest.raises(BattleFileError, match=r"line 3: 4 fields, the header has 3"):
        read(path)
    path = tmp_path / "x.parquet"
    pl.DataFrame({"model_a": ["a"], "model_b": ["b"]}).write_parquet(path)
    with pytest.raises(BattleFileError, match=r"missing column\(s\) winner"):
        read(path)


@pytest.mark.parametrize("writer", [write_jsonl, write_parquet, write_csv])
def test_language_is_a_category(tmp_path, rows, writer):
    """LMArena's ``language`` column: ``--category language:English`` keeps those battles."""
    rows[3]["language"] = None  # a battle without a language is in no language category
    path = writer(tmp_path / f"b.{writer.__name__.split('_')[1]}", rows)
    b = read(path)
    codes, labels = b.languages
    assert {"English", "German"} <= set(labels) and codes.size == len(rows)
    english = [r for r in rows if r["language"] == "English"]
    assert b.select("language:English").total == len(english)
    assert b.select("language:German").total == sum(r["language"] == "German" for r in rows)
    assert b.select("language:Klingon").total == 0
    assert "language:English" not in b.flags  # not a flag: made when asked for
    # in time order, like every per-battle array (the file is newest first)
    mask = b.scope_mask("language:English")
    assert mask[::-1].tolist() == [r["language"] == "English" for r in rows]
    res = CliRunner().invoke(
        main,
        ["rate", "--input", str(path), "--ci", "none", "--format", "json"]
        + ["--category", "language:English"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["meta"]["battles"] == len(english)
    assert out["meta"]["scope"]["category"] == "language:English"
    elo = CliRunner().invoke(
        main,
        ["rate", "--input", str(path), "--method", "elo", "--ci", "none", "--format", "json"]
        + ["--category", "language:German"],
    )
    assert json.loads(elo.output)["meta"]["battles"] == sum(r["language"] == "German" for r in rows)
    bad = CliRunner().invoke(main, ["rate", "--input", str(path), "--category", "language:xx"])
    assert bad.exit_code == 1 and "no battles in this scope" in bad.output


def coded_rows(n=400):
    """Battles with only coded columns: names, winner, the left model (a name, a side or
    nothing), padded and missing labels and languages."""
    rng = np.random.default_rng(3)
    names = ["gpt-4o", "claude-3-5", "llama-3-70b", "gemma-2", "qwen-2"]
    rows = []
    for _ in range(n):
        a, b = rng.choice(len(names), 2, replace=False)
        left = [names[a], names[b], "model_b", "model_a", None][rng.integers(5)]
        rows.append(
            {
                "model_a": names[a],
                "model_b": names[b],
                "winner": ["model_a", "model_b", "tie", "tie (bothbad)"][rng.integers(4)],
                "left": left,
                "category": ["math", " math ", "coding", None][rng.integers(4)],
                "source": ["human", "judge:x"][rng.integers(2)],
                "rater_group": ["", "experts"][rng.integers(2)] or None,
                "language": ["English", "German", None][rng.integers(3)],
            }
        )
    return rows


def test_coded_csv_is_counted_on_its_distinct_rows_as_every_row_would_be(tmp_path):
    """A CSV of coded columns only is checked and counted on its distinct rows; the same
    battles as JSON Lines go through every row: the two agree in every count and array."""
    from arena.distinct_rows import PerRow

    rows = coded_rows()
    csv_path = tmp_path / "b.csv"
    pl.DataFrame(rows).write_csv(csv_path)
    fast, slow = read(csv_path), read(write_jsonl(tmp_path / "b.jsonl", rows))
    assert isinstance(fast.sequence, PerRow) and isinstance(slow.sequence, dict)
    assert fast.battles == slow.battles == len(rows)
    for name in ("models", "categories", "sources", "groups", "positional"):
        assert getattr(fast.table, name) == getattr(slow.table, name), name
    for name in ("category", "source", "group", "left", "right", "counts"):
        assert np.array_equal(getattr(fast.table, name), getattr(slow.table, name)), name
    assert set(fast.sequence) == set(slow.sequence)
    for key, value in slow.sequence.items():
        got = fast.sequence[key]
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and np.array_equal(got, value), key
        else:
            assert got == value, key
    assert fast.languages[1] == slow.languages[1]
    assert np.array_equal(fast.languages[0], slow.languages[0])
    for scope in ({"category": "math"}, {"source": "judge:x"}, {"category": "language:German"}):
        a, b = fast.select(**scope), slow.select(**scope)
        assert np.array_equal(a.counts, b.counts) and a.total > 0, scope


def test_first_bad_row_of_a_coded_csv_is_named(tmp_path):
    """A bad value found among the distinct rows is named at its first line, checks in the
    order of the row-by-row pass (a missing name before a model playing itself)."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "model_a,model_b,winner\na,b,tie\na,a,model_a\nb,c,bob\nc,,tie\na,b,tie\nc,,tie\n"
    )
    with pytest.raises(BattleFileError, match=r"line 5: missing model_b"):
        read(path)
    path.write_text("model_a,model_b,winner\na,b,tie\nb,c,bob\na,a,model_a\nb,c,bob\n")
    with pytest.raises(BattleFileError, match=r"line 3: unknown winner 'bob'"):
        read(path)
    path.write_text("model_a,model_b,winner,left\nx,y,tie,x\ny,z,tie,y\ny,z,tie,x\n")
    with pytest.raises(BattleFileError, match=r"line 4: left is 'x', neither 'y' nor 'z'"):
        read(path)
