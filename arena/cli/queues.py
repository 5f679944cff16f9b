"""``arena queue status`` and ``arena queue retry-failed``: see and recover rq's jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from arena import queue as arena_queue
from arena.cli.common import config_option, text_table


@click.group("queue")
def queue_group() -> None:
    """See Arena's rq queues and put failed jobs back."""


def _age(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - moment).total_seconds()
    return f"{seconds:.0f} s ago"


def _names(rt, names: tuple[str, ...]) -> list[str]:
    return list(names) or list(arena_queue.queue_names(rt.settings).values())


@queue_group.command("status")
@click.option(
    "--queue", "names", multiple=True, help="Queue to show (repeatable; default: Arena's three)."
)
@config_option
def status(names: tuple[str, ...], rt) -> None:
    """Jobs per queue (queued, taken, started, failed, scheduled) and the workers.

    "taken" counts jobs a worker has taken off the queue and not finished (rq's
    intermediate list): a dead worker's are put back on the queue within seconds.
    """
    from rq import Queue, Worker

    conn = rt.redis
    rows = []
    for name in _names(rt, names):
        q = Queue(name, connection=conn)
        rows.append(
            [
                name,
                str(q.count),
                str(conn.llen(q.intermediate_queue_key)),
                str(q.started_job_registry.get_job_count()),
                str(q.failed_job_registry.get_job_count()),
                str(q.scheduled_job_registry.get_job_count()),
            ]
        )
    head = ["queue", "queued", "taken", "started", "failed", "scheduled"]
    click.echo("\n".join(text_table(head, rows)))
    workers = Worker.all(connection=conn)
    click.echo("")
    if not workers:
        click.echo("workers: none")
        return
    rows = [
        [
            w.name,
            w.hostname or "-",
            str(w.pid or "-"),
            w.get_state(),
            ",".join(w.queue_names()),
            _age(w.last_heartbeat),
        ]
        for w in sorted(workers, key=lambda w: w.name)
    ]
    head = ["worker", "host", "pid", "state", "queues", "last heartbeat"]
    click.echo("\n".join(text_table(head, rows)))


@queue_group.command("retry-failed")
@click.option(
    "--queue",
    "names",
    multiple=True,
    help="Queue whose failed jobs to put back (repeatable; default: Arena's three).",
)
@config_option
def retry_failed(names: tuple[str, ...], rt) -> None:
    """Put every job in rq's failed registry back on its queue.

    A vote job stores its vote exactly once however often it runs, so retrying is
    always safe; a job that fails again goes back to the failed registry.
    """
    from rq import Queue
    from rq.exceptions import InvalidJobOperation, NoSuchJobError

    conn = rt.redis
    total = 0
    for name in _names(rt, names):
        registry = Queue(name, connection=conn).failed_job_registry
        done = gone = 0
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
                done += 1
            except (NoSuchJobError, InvalidJobOperation):
                registry.remove(job_id)
                gone += 1
        total += done
        note = f" ({gone} whose job no longer exists dropped)" if gone else ""
        click.echo(f"{name}: {done} failed job(s) put back on the queue{note}")
    if total:
        click.echo("Run `arena worker` (or keep it running) to process them.")


COMMANDS = [queue_group]
