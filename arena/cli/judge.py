"""``arena judge run`` and ``arena judge report``."""

from __future__ import annotations

import json

import click

from arena.cli.common import config_option, text_table


def _judge(rt, name: str):
    """Judge ``name``, checked, with its API key (if any) set: fail now, not in every job."""
    from workers.judge_config import JudgeConfigError, get_judge

    try:
        judge = get_judge(rt.settings, name)
        judge.api_key()
    except JudgeConfigError as exc:
        raise click.ClickException(f"{rt.settings.source or 'settings'}: {exc}") from None
    return judge


def _check_battles(rt, category: str | None) -> None:
    """Fail now, not in every job, when no battle can be drawn."""
    import numpy as np
    from sqlmodel import Session

    from arena.sampling import NoBattleAvailable, draw

    with Session(rt.engine) as s:
        try:
            draw(
                s,
                np.random.default_rng(),
                category=category,
                policy=rt.settings["battle"]["sampler"],
            )
        except NoBattleAvailable as exc:
            raise click.ClickException(f"{exc}; nothing enqueued") from None


@click.group("judge")
def judge_group() -> None:
    """Judge models vote on battles through the rq queue ``judge``."""


@judge_group.command("run")
@click.option("--judge", "name", required=True, help="A judge configured as [judges.NAME].")
@click.option("--category", default=None, help="Draw battles from this prompt category only.")
@click.option(
    "--battles",
    "n",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many judge jobs (one battle each) to enqueue.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Replay finished live battles (oldest first, each once per judge), "
    "every turn of their conversation, instead of drawing battles.",
)
@config_option
def run(name: str, category: str | None, n: int, live: bool, rt) -> None:
    """Enqueue N judge jobs; `arena worker` processes run them.

    Each job draws a battle like the battle page does, has the judge compare
    the answers in both orders and enqueues the vote with source judge:NAME.
    With --live each job replays a stored live battle's conversation instead.
    """
    from workers.judge import enqueue_jobs

    judge = _judge(rt, name)
    if live:
        _run_live(rt, judge, category, n)
        return
    _check_battles(rt, category)
    judge_queue = rt.queue_for("judge")
    jobs = enqueue_jobs(judge_queue, judge, n, category)
    where = f" in category {category!r}" if category else ""
    click.echo(
        f"enqueued {len(jobs)} judge job(s) for {judge.name} ({judge.format}, "
        f"{judge.base_url}){where} on queue {judge_queue.name!r}"
    )


def _run_live(rt, judge, category: str | None, n: int) -> None:
    from sqlmodel import Session

    from workers.judge_live import enqueue_live_jobs, live_battles_to_judge

    with Session(rt.engine) as s:
        ids = live_battles_to_judge(s, judge, n, category)
    where = f" in category {category!r}" if category else ""
    if not ids:
        raise click.ClickException(
            f"no finished live battle{where} is left for {judge.name} to replay; nothing enqueued"
        )
    judge_queue = rt.queue_for("judge")
    jobs = enqueue_live_jobs(judge_queue, judge, ids)
    fewer = f" (only {len(ids)} left to replay)" if len(ids) < n else ""
    click.echo(
        f"enqueued {len(jobs)} judge job(s) replaying live battles{where} for {judge.name} "
        f"({judge.format}, {judge.base_url}) on queue {judge_queue.name!r}{fewer}"
    )


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value, fmt="{:.3f}") -> str:
    return "-" if value is None else fmt.format(value)


def _ci(stat: dict | None, pct: bool = True) -> str:
    """``value [low, high]`` of a bootstrap result."""
    if not stat or stat["value"] is None:
        return "-"
    f = _pct if pct else _num
    if stat["low"] is None:
        return f(stat["value"])
    return f"{f(stat['value'])} [{f(stat['low'])}, {f(stat['high'])}]"


def _signed(stat: dict | None) -> str:
    if not stat or stat["value"] is None:
        return "-"
    v, lo, hi = (None if x is None else 100 * x for x in (stat["value"], stat["low"], stat["high"]))
    span = "" if lo is None else f" [{lo:+.1f}, {hi:+.1f}]"
    return f"{v:+.1f} pts{span}"


def _table(rows: list[list[str]]) -> str:
    return "\n".join(text_table(rows[0], rows[1:]))


def _pref(r: dict, key: str, who: str) -> str:
    block = r[key]
    if block is None:
        return "-"
    return _signed(block["difference"]) if who == "diff" else _ci(block[who])


METRICS = [
    ("votes", lambda r: str(r["votes"])),
    ("battles drawn", lambda r: str(r["battles"])),
    ("calls", lambda r: str(r["calls"]["calls"])),
    ("skipped (own family)", lambda r: _num(r["skipped_own_family"], "{}")),
    ("agreement, same prompt", lambda r: _ci(r["agreement"]["same_prompt"]["accuracy"])),
    ("  compared", lambda r: str(r["agreement"]["same_prompt"]["compared"])),
    ("  Cohen's kappa", lambda r: _ci(r["agreement"]["same_prompt"]["kappa"], pct=False)),
    ("human-human baseline", lambda r: _ci(r["human_baseline"])),
    ("agreement, pair only", lambda r: _pct(r["agreement"]["pair_only"]["accuracy"])),
    ("  compared", lambda r: str(r["agreement"]["pair_only"]["compared"])),
    ("order consistency (calls)", lambda r: _pct(r["position"]["order_consistency"])),
    (
        "consistency, items shown both ways",
        lambda r: _pct(r["position"]["consistency_across_items"]["value"]),
    ),
    ("first-position win rate", lambda r: _pct(r["position"]["first_position_win_rate"])),
    ("left win rate (votes)", lambda r: _pct(r["left_win_rate"])),
    (
        "Davidson left advantage",
        lambda r: _ci(r["position"]["davidson_left_advantage"], pct=False),
    ),
    ("tie rate", lambda r: _pct(r["tie_rate"])),
    ("self-preference (judge - humans)", lambda r: _pref(r, "self_preference", "diff")),
    ("longer answer wins, judge", lambda r: _pref(r, "length_preference", "judge")),
    ("longer answer wins, humans", lambda r: _pref(r, "length_preference", "human")),
    ("  difference", lambda r: _pref(r, "length_preference", "diff")),
    ("parse-failure rate", lambda r: _pct(r["calls"]["parse_failures"]["rate"])),
    (
        "  shown-first order (ab)",
        lambda r: _pct(r["calls"]["parse_failures"]["by_order"]["ab"]["rate"]),
    ),
    (
        "  swapped order (ba)",
        lambda r: _pct(r["calls"]["parse_failures"]["by_order"]["ba"]["rate"]),
    ),
    ("truncated calls", lambda r: str(r["calls"]["truncated_calls"])),
    ("HTTP failures", lambda r: str(r["calls"]["http_failures"])),
    ("tokens in / out", lambda r: _tokens(r["calls"])),
    ("cost", lambda r: _num(r["calls"]["cost"], "{:.4f}")),
    ("mean latency (ms)", lambda r: _num(r["calls"]["mean_latency_ms"], "{:.0f}")),
]


def _tokens(calls: dict) -> str:
    return f"{calls['tokens']['input']} / {calls['tokens']['output']}"


def render_table(data: dict) -> str:
    judges = data["judges"]
    human = data["human"]
    names = list(judges)
    rows = [["metric", *names]] + [[label, *(f(judges[n]) for n in names)] for label, f in METRICS]
    b = data["bootstrap"]
    out = [
        _table(rows),
        "",
        f"[low, high]: 95% interval, {b['rounds']} bootstrap rounds over prompts "
        f"(seed {b['seed']})",
        f"human votes: {human['votes']}, tie rate {_pct(human['tie_rate'])}, "
        f"left win rate {_pct(human['left_win_rate'])}",
    ]
    for name in names:
        bins = judges[name]["calibration"]
        if not bins:
            continue
        rows = [["confidence", "battles", "agreement"]]
        for bn in bins:
            span = f"{bn['low']:g}" if bn["low"] == bn["high"] else f"{bn['low']:g}-{bn['high']:g}"
            rows.append([span, str(bn["n"]), _pct(bn["agreement"])])
        out += ["", f"calibration of {name} (agreement with humans by confidence):", _table(rows)]
    return "\n".join(out)


def _info(rt, names: tuple[str, ...], families: tuple[str, ...]) -> dict:
    """Family and prices per judge: ``[judges.NAME]``, then ``--family NAME=FAMILY``."""
    from workers.judge_config import JudgeConfigError, judge_settings

    info = {}
    for name, table in rt.settings["judges"].items():
        try:
            j = judge_settings(name, table)
        except JudgeConfigError as exc:
            raise click.ClickException(f"{rt.settings.source or 'settings'}: {exc}") from None
        info[name] = {
            "family": j.family,
            "prices": (j.price_per_million_input, j.price_per_million_output),
        }
    for item in families:
        name, sep, family = item.partition("=")
        if not sep or not name.strip() or not family.strip():
            raise click.BadParameter(f"{item!r} is not NAME=FAMILY", param_hint="--family")
        info.setdefault(name.strip(), {"family": "", "prices": (0.0, 0.0)})
        info[name.strip()]["family"] = family.strip()
    return info


@judge_group.command("report")
@click.option(
    "--judge",
    "names",
    multiple=True,
    help="Report this judge (repeatable; default: every judge with votes or calls).",
)
@click.option(
    "--family",
    "families",
    multiple=True,
    metavar="NAME=FAMILY",
    help="The model family of a judge not configured in [judges] (e.g. gpt-4=openai), "
    "for its self-preference.",
)
@click.option(
    "--rounds",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Bootstrap rounds (over prompts) for the 95% intervals; 0: none.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@config_option
def report(names, families, rounds: int, seed: int, fmt: str, rt) -> None:
    """Agreement with humans (and the human baseline), position and length bias,
    self-preference, calibration, parse failures, tokens and cost."""
    from arena.judge_report import report as build

    data = build(
        rt.engine, list(names) or None, _info(rt, names, families), rounds=rounds, seed=seed
    )
    if not data["judges"]:
        raise click.ClickException(
            "no judge votes or calls in the store "
            "(run `arena judge run`, or `arena import llmfao DIR`)"
        )
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(render_table(data))


COMMANDS = [judge_group]
