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
from arena.judge_report import report
from rating.judging import (
    accuracy,
    bootstrap_over_prompts,
    calibration_bins,
    choice_rates,
    cohen_kappa,
    combine,
    combine_scores,
    in_family,
    leave_one_out_agreement,
    majority,
    outcome,
    position_consistency,
    side_of,
    win_share,
)
from tests.conftest import shared_data
from tests.judges.conftest import seed, work
from tests.standin_judge import write_config
from workers.judge import enqueue_jobs
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
    assert combine("first", "second", "tie") == "left"  # left won both ways
    assert combine("second", "first", "tie") == "right"
    assert combine("first", "first", "tie") == "tie"  # position bias: disagreement
    assert combine("first", "first", "none") is None
    assert combine("tie", "tie", "none") == "tie"
    assert combine("tie", "second", "none") is None
    assert combine(None, "first", "tie") is None
    assert combine_scores(5, 2) == "left" and combine_scores(1, 4) == "right"
    assert combine_scores(3, 3) == "tie" and combine_scores(None, 3) is None


def test_leave_one_out_agreement_golden():
    # item 0: labels 0, 0, 1 -> the 0s agree with the other's majority (0 vs 1: a tie!)
    items = np.array([0, 0, 0, 1, 1, 2])
    labels = np.array([0, 0, 1, 2, 2, 1])
    got = leave_one_out_agreement(items, labels)
    # vote 0: others {0, 1} split -> tie (2) != 0; vote 1 likewise; vote 2: others {0, 0} -> 0
    # != 1; item 1: each agrees with the other (2 == 2); item 2: alone -> NaN
    assert np.array_equal(got[:5], [0.0, 0.0, 0.0, 1.0, 1.0]) and np.isnan(got[5])


def test_win_share_and_position_consistency_golden():
    assert win_share(np.array([0, 1, 2, 0]), np.array([0, 0, 0, 1])) == pytest.approx(1.5 / 4)
    assert win_share(np.array([], dtype=int), np.array([], dtype=int)) is None
    # item 0 shown both ways: (0 | 0, 1) -> agreement 1/2; item 1 only one way: ignored
    got = position_consistency(
        np.array([0, 0, 0, 1]), np.array([True, False, False, True]), np.array([0, 0, 1, 1])
    )
    assert got == {"items": 1, "value": 0.5}


def test_bootstrap_over_prompts_keeps_prompts_together():
    prompts = np.array([0, 0, 1, 1, 2, 2])
    values = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    res = bootstrap_over_prompts(
        prompts, lambda i: float(values[i].mean()), rounds=500, seed=1, confidence=0.95
    )
    assert res["value"] == pytest.approx(0.5) and res["n"] == 6 and res["prompts"] == 3
    assert 0.0 <= res["low"] < 0.5 < res["high"] <= 1.0
    # resampling prompts: only means of whole prompts (0, 0.5, 1 per prompt) are possible
    assert res["low"] * 6 == pytest.approx(round(res["low"] * 6))
    one = bootstrap_over_prompts(np.array([7]), lambda i: 1.0, rounds=10, seed=0)
    assert one["low"] is None  # one prompt: no interval


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


def _crowd_baseline(directory, items):
    """One crowd vote against the majority of the other crowd votes, straight from the CSV."""
    with open(directory / "crowd-comparisons.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_item = defaultdict(list)
    for r in rows:
        key = (r["prompt"], min(r["left"], r["right"]), max(r["left"], r["right"]))
        if r["winner"] == "tie":
            by_item[key].append("tie")
        else:
            by_item[key].append(r["left"] if r["winner"] == "left" else r["right"])
    agree = n = 0
    for key in items:
        labels = by_item[key]
        for k, label in enumerate(labels):
            others = Counter(labels[:k] + labels[k + 1 :]).most_common()
            if not others:
                continue
            ref = others[0][0] if len(others) == 1 or others[0][1] > others[1][1] else "tie"
            agree += label == ref
            n += 1
    return agree / n


def test_llmfao_gpt4_against_the_crowd(sqlite_url):
    from sqlmodel import Session

    from arena.importers.llmfao import import_dir
    from arena.models import Model

    directory = shared_data("llmfao")
    engine = db.get_engine(sqlite_url)
    import_dir(engine, directory)
    orgs = {}
    for line in (directory / "models.jsonl").read_text().splitlines():
        m = json.loads(line)
        orgs[m["name"]] = m["org"]
    with Session(engine) as s:  # families from the organisations (the models table's field)
        for model in s.exec(__import__("sqlmodel").select(Model)).all():
            model.family = orgs.get(model.name)
        s.commit()
    data = report(engine, info={"gpt-4": {"family": "OpenAI"}}, rounds=200, seed=3)
    assert list(data["judges"]) == ["gpt-4"]
    gpt4 = data["judges"]["gpt-4"]
    compared, same, acc = _llmfao_expected(directory)
    assert gpt4["votes"] == 3236 and gpt4["calls"]["calls"] == 0
    same_prompt = gpt4["agreement"]["same_prompt"]
    assert same_prompt["compared"] == same
    assert gpt4["agreement"]["pair_only"]["compared"] == compared - same
    acc_same = same_prompt["accuracy"]
    assert acc_same["n"] == same and acc_same["prompts"] == 13  # of 19 have crowd votes on them
    assert acc_same["low"] < acc_same["value"] < acc_same["high"]
    assert 0 < same_prompt["kappa"]["value"] < 1
    # overall accuracy (same prompt and pair only) matches the CSV computation
    pair_acc = gpt4["agreement"]["pair_only"]["accuracy"]
    overall = (acc_same["value"] * same + pair_acc * (compared - same)) / compared
    assert overall == pytest.approx(acc)
    # the human baseline on the same items, computed straight from the CSV
    baseline = gpt4["human_baseline"]
    assert baseline["low"] < baseline["value"] < baseline["high"]
    # GPT-4's votes are one order per item: Davidson's left advantage still reads them
    davidson = gpt4["position"]["davidson_left_advantage"]
    assert davidson["low"] < davidson["value"] < davidson["high"]
    assert gpt4["position"]["order_consistency"] is None and gpt4["calibration"] == []
    # self-preference (OpenAI models) and length preference, judge vs humans
    self_pref = gpt4["self_preference"]
    assert self_pref["judge"]["n"] > 0 and self_pref["human"]["n"] > 0
    assert self_pref["difference"]["value"] == pytest.approx(
        self_pref["judge"]["value"] - self_pref["human"]["value"]
    )
    length = gpt4["length_preference"]
    assert 0 < length["judge"]["value"] < 1 and 0 < length["human"]["value"] < 1
    assert data["human"]["votes"] == 8931


def test_llmfao_human_baseline_matches_the_csv(sqlite_url):
    from arena.importers.llmfao import import_dir

    directory = shared_data("llmfao")
    engine = db.get_engine(sqlite_url)
    import_dir(engine, directory)
    data = report(engine, rounds=0)["judges"]["gpt-4"]
    with open(directory / "gpt4-comparisons.csv", newline="") as fh:
        gpt4 = list(csv.DictReader(fh))
    with open(directory / "crowd-comparisons.csv", newline="") as fh:
        crowd = {
            (r["prompt"], min(r["left"], r["right"]), max(r["left"], r["right"]))
            for r in csv.DictReader(fh)
        }
    items = {
        (r["prompt"], min(r["left"], r["right"]), max(r["left"], r["right"])) for r in gpt4
    } & crowd
    assert data["human_baseline"]["value"] == pytest.approx(_crowd_baseline(directory, items))


def test_report_on_judge_jobs(configure, standin):
    rt = configure(format="judgelm")
    seed(rt.engine)
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 4)
    work(rt)
    data = report(rt.engine, ["j"], {"j": {"prices": (2.0, 10.0)}})["judges"]["j"]
    calls = data["calls"]
    assert data["votes"] == 4 and calls["calls"] == 8
    assert data["position"]["order_consistency"] == 1.0
    assert data["tie_rate"] == 0.0 and calls["parse_failures"]["rate"] == 0.0
    assert data["position"]["first_position_win_rate"] == pytest.approx(0.5)
    assert data["agreement"]["same_prompt"]["compared"] == 0  # no human votes yet
    assert calls["mean_latency_ms"] > 0 and calls["served_models"] == ["standin-judge"]
    tokens = calls["tokens"]
    assert tokens["input"] > 0 and tokens["output"] > 0
    assert calls["cost"] == pytest.approx((tokens["input"] * 2 + tokens["output"] * 10) / 1e6)


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
    assert data["position"]["order_consistency"] == 0.0
    assert data["position"]["first_position_win_rate"] == 1.0
    assert data["tie_rate"] == 1.0
    failures = data["calls"]["parse_failures"]
    assert failures["rate"] == pytest.approx(4 / 10)  # 2 orders x 2 tries of 10
    assert failures["by_order"]["ab"] == {"failures": 2, "replies": 5, "rate": 0.4}
    assert failures["by_recovered_verdict"] == {"never": 4}
    assert data["battles"] == 4 and data["votes"] == 3


def test_parse_failures_by_the_verdict_a_retry_recovered(configure, standin):
    """A parser that drops one side's verdicts shows up: failures by recovered verdict."""
    standin.plan("malformed")  # the first call fails to parse, its retry names GOLD
    rt = configure(format="mtbench")
    seed(rt.engine)
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 1)
    work(rt)
    failures = report(rt.engine)["judges"]["j"]["calls"]["parse_failures"]
    assert failures["failures"] == 1 and sum(failures["by_recovered_verdict"].values()) == 1
    assert set(failures["by_recovered_verdict"]) <= {"first", "second"}


def test_report_counts_battles_skipped_for_the_judges_family(configure, standin):
    rt = configure(family="Acme")
    seed(rt.engine, good_family="acme")
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 3)
    work(rt)

    def skipped(family):
        info = {"j": {"family": family}}
        return report(rt.engine, ["j"], info)["judges"]["j"]["skipped_own_family"]

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
    assert data["votes"] == 3 and data["position"]["order_consistency"] == 1.0
    same = data["agreement"]["same_prompt"]
    assert same["compared"] == 3 and same["accuracy"]["value"] == 1.0
    assert data["calibration"] == [{"low": 5.0, "high": 5.0, "n": 3, "agreement": 1.0}]
    res = runner.invoke(main, ["judge", "report", "--rounds", "50", "--config", config])
    assert res.exit_code == 0 and "agreement, same prompt" in res.output
    assert "human-human baseline" in res.output and "calibration of open" in res.output
    assert "50 bootstrap rounds over prompts" in res.output
    res = runner.invoke(main, ["judge", "report", "--family", "oops", "--config", config])
    assert res.exit_code != 0 and "'oops' is not NAME=FAMILY" in res.output


@pytest.mark.parametrize(
    "bad,message",
    [
        (
            {"format": "gpt"},
            "judges.open.format must be one of prometheus, prometheus-absolute, judgelm, mtbench",
        ),
        ({"colour": "blue"}, "[judges.open] has no key 'colour'"),
        (
            {"temprature": 0.1},
            "[judges.open] has no key 'temprature' (did you mean 'temperature'?)",
        ),
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


def test_judge_votes_are_not_in_the_default_human_snapshot(configure, standin):
    from arena import rating_store
    from arena.models import Vote

    rt = configure()
    seed(rt.engine)
    human_votes_for_good(rt.engine, n=4)
    enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, "j"), 3)
    work(rt)
    from sqlmodel import Session, select

    with Session(rt.engine) as s:
        sources = sorted(v.source for v in s.exec(select(Vote)).all())
    assert sources == ["human"] * 4 + ["judge:j"] * 3  # judge votes are their own source
    rating_store.recompute(rt.engine, rt.settings["rating"])
    method = rt.settings.rating.method
    default = rating_store.latest_snapshot(rt.engine, method)  # the default leaderboard's snapshot
    assert default is not None
    assert default["meta"]["battles"] == 4  # human votes only
    assert default["meta"]["scope"]["source"] == "human"
    mixed = rating_store.latest_snapshot(rt.engine, method, source="")  # `all`, stored as ""
    assert mixed["meta"]["battles"] == 7
    judge = rating_store.latest_snapshot(rt.engine, method, source="judge:j")
    assert judge["meta"]["battles"] == 3


def test_davidson_left_advantage_sees_a_left_bias():
    from rating.judging import davidson_left_advantage

    rng = np.random.default_rng(0)
    n = 600
    left = rng.integers(0, 4, n) * 10  # sparse model ids: absent models are left out
    right = ((left // 10 + rng.integers(1, 4, n)) % 4) * 10
    biased = list(rng.choice(["left", "left", "right", "tie"], n))
    fair = list(rng.choice(["left", "right", "tie"], n))
    b = davidson_left_advantage(left, right, biased)
    f = davidson_left_advantage(left, right, fair)
    assert b["low"] > 0 and b["value"] > 50  # rating points
    assert f["low"] < 0 < f["high"]
    assert "ties" in davidson_left_advantage(left, right, ["left"] * n)["error"]
