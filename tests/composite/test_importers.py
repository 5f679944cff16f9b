"""Signal files: parsing real exports, and bad files named by line."""

import pytest

from arena.composite_files import load_efficiency, load_models, load_ratings
from arena.importers.aliases import parse_aliases
from arena.importers.benchmarks import SignalFileError, parse_benchmarks
from arena.importers.popularity import parse_popularity
from tests.conftest import shared_data


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hf_v2_export_parses_with_one_row_per_model():
    path = shared_data("open-llm-leaderboard-2025-03-15", "huggingface_v2.csv")
    parsed = parse_benchmarks(path)
    assert parsed.format == "open-llm-leaderboard-v2"
    models = {r.model for r in parsed.rows}
    assert len(parsed.rows) == 6 * len(models)
    assert parsed.notes[0] == f"{len(models)} models"
    assert "repeated rows of the same model skipped" in parsed.notes[1]
    gpqa = next(r for r in parsed.rows if r.model == "01-ai/Yi-1.5-34B" and r.benchmark == "gpqa")
    # the export's own normalized column, 0-100 (exact for BBH and MuSR too)
    assert gpqa.score == pytest.approx(15.4362416107383) and gpqa.n_items == 1192
    assert gpqa.normalized


def test_long_format(tmp_path):
    path = write(
        tmp_path,
        "b.csv",
        "model,benchmark,subtask,score,n_items,normalized\n"
        "A,bbh,navigate,0.75,250,\nA,gpqa,,31.5,,true\n\nB,gpqa,,0.4,1192,false\n",
    )
    rows = parse_benchmarks(path).rows
    assert [(r.model, r.benchmark, r.subtask, r.score, r.n_items, r.normalized) for r in rows] == [
        ("A", "bbh", "navigate", 0.75, 250, False),
        ("A", "gpqa", "", 31.5, None, True),
        ("B", "gpqa", "", 0.4, 1192, False),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "model,benchmark,score\nA,gpqa,0.5\nB,gpqa,high\n",
            "line 3: column 'score' is not a number",
        ),
        ("model,benchmark,score\nA,gpqa,1.5\n", "line 2: score 1.5 outside [0, 1]"),
        (
            "model,benchmark,score,n_items\nA,gpqa,0.5,12.5\n",
            "line 2: column 'n_items' is not a whole",
        ),
        ("model,benchmark,score,n_items\nA,gpqa,0.5,0\n", "line 2: column 'n_items' must be >= 1"),
        ("model,benchmark,score\nA,gpqa,0.5\na,GPQA,0.6\n", "line 3: a / GPQA / - repeats line 2"),
        ("model,benchmark,score\n,gpqa,0.5\n", "line 2: column 'model' is empty"),
        ("model,score\nA,0.5\n", "line 1: missing column(s) benchmark"),
        (
            "model,benchmark,score,normalized\nA,gpqa,50,maybe\n",
            "line 2: column 'normalized' is not true/false",
        ),
        ("model,benchmark,score\nA,gpqa,0.5,extra\n", "line 2: 4 fields, header has 3"),
        ("", "empty file"),
    ],
)
def test_bad_benchmark_files_name_the_line(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(SignalFileError) as err:
        parse_benchmarks(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_popularity_csv_and_errors(tmp_path):
    good = write(tmp_path, "p.csv", "model,downloads,likes,date\nA,1000,5,2025-03-01\nB,,7,\n")
    rows = dict(parse_popularity(good).rows)
    assert rows["A"].downloads == 1000 and rows["A"].as_of.isoformat() == "2025-03-01"
    assert rows["B"].downloads is None and rows["B"].likes == 7
    for text, message in [
        ("model,downloads,likes,date\nA,1,2,2025-13-01\n", "line 2: column 'date' is not a date"),
        ("model,downloads,likes\nA,,\n", "line 2: neither downloads nor likes given"),
        ("model,downloads,likes\nA,-3,1\n", "line 2: column 'downloads' must be >= 0"),
        ("model,downloads\nA,1\nA,2\n", "line 3: model 'A' repeats line 2"),
        ("model,stars\nA,1\n", "need a 'downloads' or a 'likes' column"),
    ]:
        with pytest.raises(SignalFileError, match=message.replace("(", r"\(")):
            parse_popularity(write(tmp_path, "bad.csv", text))


def test_popularity_from_hf_export_uses_likes():
    rows = dict(
        parse_popularity(shared_data("open-llm-leaderboard-2025-03-15", "huggingface_v2.csv")).rows
    )
    assert rows["01-ai/Yi-1.5-34B"].likes == 47 and rows["01-ai/Yi-1.5-34B"].downloads is None


def test_aliases_and_conflicts(tmp_path):
    rows = parse_aliases(write(tmp_path, "a.csv", "alias,model\nGPT4o,GPT-4o\ngpt4o,gpt-4o\n")).rows
    assert rows == [("gpt4o", "GPT-4o")]
    with pytest.raises(SignalFileError, match="line 3: alias 'x' already names 'A' on line 2"):
        parse_aliases(write(tmp_path, "b.csv", "alias,model\nx,A\nX,B\n"))
    with pytest.raises(SignalFileError, match="line 2: column 'model' is empty"):
        parse_aliases(write(tmp_path, "c.csv", "alias,model\nx,\n"))


def test_ratings_files(tmp_path):
    arena, facts, fmt = load_ratings(shared_data("open-llm-leaderboard-2025-03-15", "lmsys.csv"))
    assert fmt == "lmsys-csv" and arena.models[1] == "GPT-4.5-Preview"
    assert (arena.ci_low[1], arena.rating[1], arena.ci_high[1]) == (1395, 1404, 1411)
    assert facts["GPT-4.5-Preview"].organization == "OpenAI"
    with pytest.raises(SignalFileError, match="line 3: 95_pct_ci is not like"):
        load_ratings(write(tmp_path, "r.csv", "model,arena_score,95_pct_ci\nA,1,+1/-1\nB,2,x\n"))
    with pytest.raises(SignalFileError, match="line 2: broken JSON"):
        load_ratings(write(tmp_path, "r.json", '{"models": [\n{"model": "A",,}]}'))
    with pytest.raises(SignalFileError, match="bootstrap lacks models: B"):
        load_ratings(
            write(
                tmp_path,
                "s.json",
                '{"models": [{"model": "A", "rating": 1, '
                '"ci_low": 0, "ci_high": 2}, {"model": "B", "rating": 1}], '
                '"bootstrap": {"models": ["A"], "ratings": [[1]]}}',
            )
        )
    with pytest.raises(SignalFileError, match=r"bootstrap.ratings has shape \(2,\)"):
        load_ratings(
            write(
                tmp_path,
                "t.json",
                '{"models": [{"model": "A", "rating": 1}], '
                '"bootstrap": {"models": ["A"], "ratings": [1, 2]}}',
            )
        )


def test_models_and_efficiency_files(tmp_path):
    models = load_models(shared_data("open-llm-leaderboard-2025-03-15", "huggingface_v2.csv"))
    yi = models["01-ai/Yi-1.5-34B"]
    assert (yi.organization, yi.parameters_b, yi.precision) == ("01-ai", 34.389, "bfloat16")
    # the v2 export's date is the repository's upload date, not a release date
    assert yi.upload_date.isoformat() == "2024-05-11" and yi.release_date is None
    assert yi.base_model is None and yi.architecture == "LlamaForCausalLM"
    assert yi.license == "apache-2.0"
    speed = load_efficiency(shared_data("llmfao", "results.jsonl"))
    assert len(speed) >= 50
    some = next(iter(speed.values()))
    assert some.tokens_per_second > 0 and some.latency_ms > 0
    with pytest.raises(SignalFileError, match="line 2: 'rate' is not a number"):
        load_efficiency(
            write(
                tmp_path, "e.jsonl", '{"model": "A", "rate": 3}\n{"model": "A", "rate": "fast"}\n'
            )
        )
    with pytest.raises(SignalFileError, match='line 1: no "name"'):
        load_models(write(tmp_path, "m.jsonl", '{"organization": "x"}\n'))
