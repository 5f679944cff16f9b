"""The judge report: statistics on golden values, on LLMFAO's GPT-4 votes, and on judge jobs."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict

import numpy as np
import pytest
from click.testing import CliRunner

from arena import db
from arena.cli import main
from arena.judge_report import (
    accuracy,
    calibration_bins,
    choice_rates,
    cohen_kappa,
    in_family,
    majority,
    outcome,
    report,
    side_of,
)
from tests.conftest import shared_data
from tests.judges.conftest import seed, work
from tests.standin_judge import write_config
from workers.judge import combine, enqueue_jobs
from workers.judge_config import get_judge


def test_cohen_kappa_golden():
    # 2x2 table [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5 -> kappa = 0.4
    x = np.array([0] * 25 + [1] * 25)
    y = np.array([0] * 20 + [1] * 5 + [0] * 10 + [1] * 15)
    assert cohen_kappa(x, y, 2) == pytest.approx(0.4)
    assert accuracy(x, y) == pytest.approx(0.7)
    assert cohen_kappa(x, x, 2) == pytest.approx(1.0)
    assert cohen_kappa([], [], 3) is None and accuracy([], []) is None
    assert cohen_kappa([1, 1], [1, 1], 3) is None  # chance agreement is certain


def test_cohen_kappa_three_labels_golden():
    # rows: rater x, cols: rater y; [[10, 2, 3], [1, 12, 2], [2, 3, 5]] (n = 40)
    table = np.array([[10, 2, 3], [1, 12, 2], [2, 3, 5]])
    x = np.repeat(np.repeat(np.arange(3), 3), table.ravel())
    y = np.repeat(np.tile(np.arange(3), 3), table.ravel())
    po = 27 / 40
    pe = (15 * 13 + 15 * 17 + 10 * 10) / 40**2
    assert cohen_kappa(x, y, 3) == pytest.approx((po - pe) / (1 - pe))


def test_majority_and_outcome():
    assert majority([0, 0, 1], 3, 2) == 0
    assert majority([0, 1], 3, 2) == 2  # a split is a tie
    assert majority([2, 2, 1], 3, 2) == 2
    assert outcome("left", 5, 3) == 1 and outcome("right", 5, 3) == 0
    assert outcome("both_bad", 1, 2) == 2


def test_choice_rates_and_in_family():
    assert choice_rates(["left", "left", "right", "tie", "both_bad"]) == (0.4, pytest.approx(2 / 3))
    assert choice_rates(["tie"]) == (1.0, None) and choice_rates([]) == (None, None)
    assert in_family("Acme", None, " acme ") and not in_family("Acme", "other", None)
    assert not in_family("", None, "") and not in_family(" ", "", None)


def test_side_of_and_combine():
    assert [side_of("ab", v) for v in ("first", "second", "tie")] == ["left", "right", "tie"]
    assert [side_of("ba", v) for v in ("first", "second", "tie")] == ["right", "left", "tie"]
    assert combine("first", "second") == "left"  # left won both ways
    assert combine("second", "first") == "right"
    assert combine("first", "first") == "tie"  # position bias: disagreement
    assert combine("first", "first", "none") is None
    assert combine("tie", "tie") == "tie"
    assert combine("tie", "second", "none") is None
    assert combine(None, "first") is None


def test_calibration_bins():
    bins = calibration_bins(np.array([0, 0, 5, 5, 5]), np.array([0, 1, 1, 1, 0]))
    assert bins == [
        {"low": 0.0, "high": 0.0, "n": 2, "agreement": 0.5},
        {"low": 5.0, "high": 5.0, "n": 3, "agreement": pytest.approx(2 / 3)},
    ]
    many = calibration_bins(np.arange(100.0), (np.arange(100) >= 50).astype(float), 4)
    assert [b["n"] for b in many] == [25, 25, 25, 25]
    assert [b["agreement"] for b in many] == [0, 0, 1, 1]
    assert calibration_bins(np.array([np.nan]), np.array([1.0])) == []


def _llmfao_expected(directory):
    """GPT-4 vs crowd majority, computed straight from the CSV files."""

    def rows(name):
        with open(directory / f"{name}-comparisons.csv", newline="") as fh:
            return list(csv.DictReader(fh))

    def code(r):
        if r["winner"] == "tie":
            return 2
        winner = r["left"] if r["winner"] == "left" else r["right"]
        return 0 if winner == min(r["left"], r["right"]) else 1

    # model ids in the store follow models.jsonl order, not names; compare by name order
    # after mapping, so use name pairs and translate "a" to the lower-id model below.
    crowd_prompt, crowd_pair = defaultdict(list), defaultdict(list)
    for r in rows("crowd"):
        key = (min(r["left"], r["right"]), max(r["left"], r["right"]))
        crowd_prompt[(r["prompt"], *key)].append(code(r))
        crowd_pair[key].append(code(r))

    def maj(values):
        top = Counter(values).most_common()
        return top[0][0] if len(top) == 1 or top[0][1] > top[1][1] else 2

    same = agree = compared = 0
    for r in rows("gpt4"):
        key = (min(r["left"], r["right"]), max(r["left"], r["right"]))
        if (r["prompt"], *key) in crowd_prompt:
            ref, same = maj(crowd_prompt[(r["prompt"], *key)]), same + 1
        elif key in crowd_pair:
            ref = maj(crowd_pair[key])
        else:
            continue
        compared += 1
        agree += code(r) == ref
    return compared, same, agree / compared


def test_llmfao_gpt4_against_the_crowd(sqlite_url):
    from arena.importers.llmfao import import_dir

    directory = shared_data("llmfao")
    engine = db.get_engine(sqlite_url)
    import_dir(engine, directory)
    data = report(engine)
    assert list(data["judges"]) == ["gpt-4"]
    gpt4 = data["judges"]["gpt-4"]
    compared, same, acc = _llmfao_expected(directory)
    assert gpt4["votes"] == 3236 and gpt4["calls"] == 0
    assert gpt4["agreement"]["compared"] == compared
    assert gpt4["agreement"]["same_prompt"] == same
    assert gpt4["agreement"]["accuracy"] == pytest.approx(acc)
    assert 0 < gpt4["agreement"]["kappa"] < 1
    assert gpt4["position_consistency"] is None and gpt4["calibration"] == []
    assert data["human"]["votes"] == 8931


def test_report_on_judge_jobs(configure, standin):
    rt = configure(format="judgelm")
    seed(rt.engine)
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 4)
    work(rt)
    data = report(rt.engine, ["j"])["judges"]["j"]
    assert data["votes"] == 4 and data["calls"] == 8
    assert data["position_consistency"] == 1.0
    assert data["tie_rate"] == 0.0 and data["parse_failure_rate"] == 0.0
    assert data["first_position_win_rate"] == pytest.approx(0.5)
    assert data["agreement"]["compared"] == 0  # no human votes yet
    assert data["mean_latency_ms"] > 0


def test_report_sees_position_bias_and_parse_failures(configure, standin):
    standin.mode = "first"
    rt = configure(format="judgelm")
    seed(rt.engine)
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 3)
    work(rt)
    standin.mode = "malformed"
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 1)
    work(rt)
    data = report(rt.engine)["judges"]["j"]
    assert data["position_consistency"] == 0.0
    assert data["first_position_win_rate"] == 1.0
    assert data["tie_rate"] == 1.0
    assert data["parse_failure_rate"] == pytest.approx(4 / 10)  # 2 orders x 2 tries of 10
    assert data["battles"] == 4 and data["votes"] == 3


def test_report_counts_battles_skipped_for_the_judges_family(configure, standin):
    rt = configure(family="Acme")
    seed(rt.engine, good_family="acme")
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 3)
    work(rt)

    def skipped(family):
        return report(rt.engine, ["j"], {"j": family})["judges"]["j"]["skipped_own_family"]

    assert skipped(" ACME ") == 3 and skipped("other") == 0
    assert skipped("  ") is None and skipped("") is None  # a blank family is no family


def _config(tmp_path, rt, standin, **judge):
    """A config file with judge ``open`` (judgelm, completion mode) with ``judge`` over it."""
    table = {
        "base_url": standin.base_url,
        "model": "standin-judge",
        "format": "judgelm",
        "mode": "completion",
        **judge,
    }
    return str(
        write_config(
            tmp_path / "arena.toml",
            database_url=rt.settings.database_url,
            redis_url=rt.settings.redis_url,
            judges={"open": table},
        )
    )


def human_votes_for_good(engine, n=8):
    """``n`` human battles drawn like the battle page, each voted for model ``good``."""
    from sqlmodel import Session

    from arena import battles, votes

    rng = np.random.default_rng(1)
    with Session(engine) as s:
        for _ in range(n):
            issued = battles.issue(s, rng)
            s.commit()
            side = "left" if issued.left.model_id == 1 else "right"
            votes.store(engine, [votes.payload_for(s, issued.battle.id, side)])


def test_cli_run_and_report(configure, standin, tmp_path):
    rt = configure()
    seed(rt.engine)
    human_votes_for_good(rt.engine)
    config = _config(tmp_path, rt, standin)
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "judge",
            "run",
            "--judge",
            "open",
            "--battles",
            "3",
            "--category",
            "coding",
            "--config",
            config,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "enqueued 3 judge job(s) for open (judgelm" in res.output
    assert rt.queue("judge").count == 3
    work(rt)
    res = runner.invoke(
        main, ["judge", "report", "--judge", "open", "--format", "json", "--config", config]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)["judges"]["open"]
    assert data["votes"] == 3 and data["position_consistency"] == 1.0
    assert data["agreement"]["compared"] == 3 and data["agreement"]["accuracy"] == 1.0
    assert data["calibration"] == [{"low": 5.0, "high": 5.0, "n": 3, "agreement": 1.0}]
    res = runner.invoke(main, ["judge", "report", "--config", config])
    assert res.exit_code == 0 and "position consistency" in res.output
    assert "calibration of open" in res.output


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"format": "gpt"}, "judges.open.format must be one of prometheus, judgelm, mtbench"),
        ({"colour": "blue"}, "judges.open: unknown key(s) colour"),
        ({"concurrency": 0}, "judges.open.concurrency must be at least 1"),
        ({"api_key_env": "ARENA_TEST_NO_SUCH_KEY_VAR"}, "ARENA_TEST_NO_SUCH_KEY_VAR is not set"),
    ],
)
def test_cli_rejects_bad_judge_settings(configure, standin, tmp_path, bad, message):
    rt = configure()
    path = _config(tmp_path, rt, standin, **bad)
    res = CliRunner().invoke(main, ["judge", "run", "--judge", "open", "--config", path])
    assert res.exit_code != 0
    assert message in res.output
    assert rt.queue("judge").count == 0


def test_cli_unknown_judge(configure, standin, tmp_path):
    rt = configure()
    res = CliRunner().invoke(
        main, ["judge", "run", "--judge", "nope", "--config", _config(tmp_path, rt, standin)]
    )
    assert res.exit_code != 0 and "no judge named 'nope'" in res.output and "open" in res.output


def test_cli_report_with_nothing_to_report(configure, standin, tmp_path):
    rt = configure()
    res = CliRunner().invoke(main, ["judge", "report", "--config", _config(tmp_path, rt, standin)])
    assert res.exit_code != 0 and "no judge votes or calls" in res.output


def test_cli_run_with_no_battle_in_category(configure, standin, tmp_path):
    rt = configure()
    seed(rt.engine)
    res = CliRunner().invoke(
        main,
        [
            "judge",
            "run",
            "--judge",
            "open",
            "--category",
            "poetry",
            "--config",
            _config(tmp_path, rt, standin),
        ],
    )
    assert res.exit_code != 0 and "no prompt in category 'poetry'" in res.output
    assert rt.queue("judge").count == 0
