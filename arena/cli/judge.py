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
@config_option
def run(name: str, category: str | None, n: int, rt) -> None:
    """Enqueue N judge jobs; `arena worker` processes run them.

    Each job draws a battle like the battle page does, has the judge compare
    the answers in both orders and enqueues the vote with source judge:NAME.
    """
    from workers.judge import enqueue_jobs

    judge = _judge(rt, name)
    _check_battles(rt, category)
    judge_queue = rt.queue_for("judge")
    jobs = enqueue_jobs(judge_queue, judge, n, category)
    where = f" in category {category!r}" if category else ""
    click.echo(
        f"enqueued {len(jobs)} judge job(s) for {judge.name} ({judge.format}, "
        f"{judge.base_url}){where} on queue {judge_queue.name!r}"
    )


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value, fmt="{:.3f}") -> str:
    return "-" if value is None else fmt.format(value)


def _table(rows: list[list[str]]) -> str:
    return "\n".join(text_table(rows[0], rows[1:]))


def render_table(data: dict) -> str:
    judges = data["judges"]
    human = data["human"]
    names = list(judges)
    metrics = [
        ("votes", lambda r: str(r["votes"])),
        ("battles drawn", lambda r: str(r["battles"])),
        ("calls", lambda r: str(r["calls"])),
        (
            "skipped (own family)",
            lambda r: "-" if r["skipped_own_family"] is None else str(r["skipped_own_family"]),
        ),
        ("position consistency", lambda r: _pct(r["position_consistency"])),
        ("tie rate", lambda r: _pct(r["tie_rate"])),
        ("parse-failure rate", lambda r: _pct(r["parse_failure_rate"])),
        ("first-position win rate", lambda r: _pct(r["first_position_win_rate"])),
        ("left win rate (votes)", lambda r: _pct(r["left_win_rate"])),
        ("truncated calls", lambda r: str(r["truncated_calls"])),
        ("HTTP failures", lambda r: str(r["http_failures"])),
        ("mean latency (ms)", lambda r: _num(r["mean_latency_ms"], "{:.0f}")),
        ("compared with humans", lambda r: str(r["agreement"]["compared"])),
        ("  on the same prompt", lambda r: str(r["agreement"]["same_prompt"])),
        ("  on the pair only", lambda r: str(r["agreement"]["pair_only"])),
        ("agreement (accuracy)", lambda r: _pct(r["agreement"]["accuracy"])),
        ("agreement without ties", lambda r: _pct(r["agreement"]["accuracy_without_ties"])),
        ("Cohen's kappa", lambda r: _num(r["agreement"]["kappa"])),
    ]
    rows = [["metric", *names]] + [[label, *(f(judges[n]) for n in names)] for label, f in metrics]
    out = [
        _table(rows),
        "",
        f"human votes: {human['votes']}, tie rate {_pct(human['tie_rate'])}, "
        f"left win rate {_pct(human['left_win_rate'])}",
    ]
    for name in names:
        bins = judges[name]["calibration"]
        if not bins:
            continue
        rows = [["confidence", "battles", "agreement"]]
        for b in bins:
            span = f"{b['low']:g}" if b["low"] == b["high"] else f"{b['low']:g}-{b['high']:g}"
            rows.append([span, str(b["n"]), _pct(b["agreement"])])
        out += ["", f"calibration of {name} (agreement with humans by confidence):", _table(rows)]
    return "\n".join(out)


@judge_group.command("report")
@click.option(
    "--judge",
    "names",
    multiple=True,
    help="Report this judge (repeatable; default: every judge with votes or calls).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@config_option
def report(names: tuple[str, ...], fmt: str, rt) -> None:
    """Position consistency, tie and parse-failure rates, and agreement with humans."""
    from arena.judge_report import report as build

    families = {}
    for name, table in rt.settings.judges.items():
        if isinstance(table, dict) and table.get("family"):
            families[name] = str(table["family"])
    data = build(rt.engine, list(names) or None, families)
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
