"""``arena serve``, ``arena worker`` and ``arena demo``: the long-running commands.

Each stops cleanly on SIGTERM (what systemd and docker send) as on Ctrl-C (SIGINT):
``serve`` stops listening and exits 0; ``worker`` lets the batch in hand finish
(rq's warm shutdown; a second signal stops it at once) and exits 0; ``demo`` stops its
workers (the generation worker too), its stand-in models, and the embedded redis-server
when the demo started it, and exits 0. None of them stops an embedded redis-server it
did not start itself (``arena redis stop``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

from arena import db, queue, redis_server
from arena.cli.common import config_option


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@config_option
def serve(host: str, port: int, rt) -> None:
    """Run the web app with Flask's development server (SIGTERM or Ctrl-C stops it).

    For production run gunicorn instead: gunicorn -w 4 'arena.app:create_app()'.
    """
    from werkzeug.serving import make_server

    from arena.app import create_app

    server = make_server(host, port, create_app(rt.settings), threaded=True)
    click.echo(f"Arena serving at http://{host}:{server.server_port}/  (Ctrl-C stops it)")
    sys.stdout.flush()
    serve_until_signal(server)


def serve_until_signal(server) -> None:
    """Serve until SIGTERM or SIGINT, then stop listening and return."""
    with stopped_by_signal(server):
        _serve(server)


@contextlib.contextmanager
def stopped_by_signal(server):
    """Inside the block, SIGTERM or SIGINT make ``server.serve_forever`` return: at once
    when it runs, as soon as it starts when it does not run yet (a signal that comes while
    the demo starts its processes must stop the demo, not kill it and orphan them)."""

    def _stop(*_):
        # shutdown() waits for serve_forever to return, so it cannot run in this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(server) -> None:
    try:
        server.serve_forever()
    finally:
        server.server_close()


def make_worker(rt, names: list[str], fork: bool, log_level: str):
    """The rq worker for ``arena worker``: rq's forking ``Worker`` with ``fork``, else
    the in-process :class:`workers.vote_batches.VoteBatchWorker`, which stores ready
    vote jobs many at a time and runs every other job as rq's ``SimpleWorker`` does."""
    from workers.vote_batches import VoteBatchWorker
    from workers.worker_loop import ForkWorker

    conn = rt.redis
    queues = [queue.get_queue(n, conn) for n in names]
    options = {"connection": conn, "log_job_description": log_level == "DEBUG"}
    if fork:
        from workers.vote_batches import MAINTENANCE_EVERY

        return ForkWorker(queues, maintenance_interval=MAINTENANCE_EVERY, **options)
    return VoteBatchWorker(
        queues,
        votes_queue=rt.settings.votes.queue,
        batch_size=rt.settings.worker.vote_batch_size,
        batch_wait=rt.settings.worker.vote_batch_wait_ms / 1000,
        **options,
    )


@click.command("worker")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="Queue to listen on (repeatable; default: [worker] queues, empty meaning all).",
)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Run each job in a forked child (rq's Worker), one at a time, instead of "
    "in-process with vote jobs in batches.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    help="INFO logs every job; WARNING only problems.",
)
@click.option(
    "--recompute-every",
    type=int,
    default=None,
    help="Override [rating] recompute_every: recompute ratings after N new votes.",
)
@click.option(
    "--generate",
    is_flag=True,
    help="Run the generation worker instead: stream live battles' answers from the "
    "models' endpoints ([models.NAME]), up to [live] max_streams at once.",
)
@config_option
def worker(
    queues: tuple[str, ...],
    burst: bool,
    fork: bool,
    log_level: str,
    recompute_every: int | None,
    generate: bool,
    rt,
) -> None:
    """Run an rq worker on Arena's queues (every queue unless --queue is given).

    Jobs run in this process, ready vote jobs many at a time in one transaction
    ([worker] vote_batch_size), unless --fork is given: then each job runs in a
    forked child (rq's Worker). Run several workers, on as many machines as you
    like, to store votes faster.

    The worker waits out a database or Redis outage and carries on; it stops only
    on SIGTERM or Ctrl-C (after the batch in hand), or with --burst when the
    queues are empty.

    With --generate it runs the generation worker of live battles instead (one
    asyncio process holding many streams; see docs/operations.md); SIGTERM or
    Ctrl-C lets the streams in hand finish (10 s at most).
    """
    _lower_priority(rt.settings.worker.nice)
    if generate:
        if queues or burst or fork:
            raise click.UsageError("--generate takes no --queue, --burst or --fork")
        from workers import generate as generation

        logging.basicConfig(level=log_level, format="%(asctime)s %(message)s")
        generation.run(rt.settings)
        return
    from workers import worker_loop

    if recompute_every is not None:
        rt.settings = rt.settings.replace(rating={"recompute_every": recompute_every})
    names = list(queues) or queue.worker_queue_names(rt.settings)
    logging.basicConfig(level=log_level, format="%(asctime)s %(message)s")
    # The scheduler puts retried jobs (rq's Retry with intervals) back on their queue.
    worker_loop.run(
        lambda: make_worker(rt, names, fork, log_level),
        rt.redis,
        burst=burst,
        with_scheduler=True,
        logging_level=log_level,
    )


def _lower_priority(nice: int) -> None:
    """``[worker] nice``: this process (and the children it forks) at a lower CPU priority."""
    if nice:
        os.nice(nice)


def stop_processes(procs: list[subprocess.Popen], timeout: float = 10) -> None:
    """SIGTERM every process still running, wait, and kill what does not stop in time."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _child_env(rt, redis_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "ARENA_DATABASE_URL": rt.settings.database_url,
            "ARENA_REDIS_URL": redis_url,
            "ARENA_INSTANCE": str(rt.settings.instance_path),
            "ARENA_SECRET_KEY": rt.settings.secret_key,
        }
    )
    if rt.settings.source:
        env["ARENA_CONFIG"] = str(rt.settings.source)
    return env


# The generation worker's command (workers/generate.py), started by the demo.
GENERATE_COMMAND = [sys.executable, "-m", "arena", "worker", "--generate"]
DEMO_MODELS = ("demo-model-a", "demo-model-b", "demo-model-c")


def demo_answer(model: str, messages: list[dict]) -> str:
    """The stand-in's labelled answer, without the model's name (a name in the answer
    would give the model away and flag every demo battle ``identity_leak``)."""
    from arena.demo_models import default_answer

    return default_answer(model, messages).replace(f"`{model}`", "a demo model")


def parse_model_spec(spec: str) -> tuple[str, dict]:
    """``NAME=URL`` or ``NAME=URL#served`` -> (NAME, its ``[models.NAME]`` table)."""
    name, sep, url = spec.partition("=")
    url, _, served = url.partition("#")
    if not sep or not name.strip() or not url.strip():
        raise click.BadParameter(
            f"{spec!r}: expected NAME=URL or NAME=URL#served-name", param_hint="--model"
        )
    table = {"base_url": url.strip()}
    if served.strip():
        table["model"] = served.strip()
    return name.strip(), table


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def child_config(settings, folder: Path) -> Path | None:
    """A config file for the demo's child processes: the demo's config file (if any) with the
    ``[models.NAME]`` tables it does not have appended (the stand-ins', ``--model``'s)."""
    source = settings.source
    text = source.read_text(encoding="utf-8") if source else ""
    configured = load_config_models(source)
    added = {n: t for n, t in settings.models.items() if n not in configured}
    if not added:
        return None
    for name, table in added.items():
        text += f"\n[models.{json.dumps(name)}]\n"
        text += "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_config_models(source: Path | None) -> dict:
    if source is None:
        return {}
    import tomllib

    with open(source, "rb") as f:
        return tomllib.load(f).get("models", {})


def demo_endpoints(rt, tables: dict[str, dict]):
    """The live models of the demo: ``--model`` tables (with any configured ``[models.*]``),
    else the configured ones, else labelled local stand-in models started here (no network,
    no weights). Returns (settings, the stand-in server or None)."""
    if tables:
        return rt.settings.replace(models=tables), None
    if rt.settings.models:
        return rt.settings, None
    from arena.demo_models import Behaviour, StandinModels

    behaviours = {
        name: Behaviour(text=demo_answer, chunks=80, delay=0.02 + 0.015 * k, first_delay=0.2)
        for k, name in enumerate(DEMO_MODELS)
    }
    standin = StandinModels(behaviours)
    standin.start()
    tables = {name: {"base_url": standin.url} for name in DEMO_MODELS}
    return rt.settings.replace(models=tables), standin


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    "n_workers",
    default=1,
    show_default=True,
    type=int,
    help="How many rq worker processes to start.",
)
@click.option(
    "--model",
    "model_specs",
    multiple=True,
    metavar="NAME=URL[#served]",
    help="A live model at an OpenAI-compatible endpoint (repeatable); the served model name "
    "is NAME unless given after '#'. Default: the configured [models.*], else labelled local "
    "demo models (stand-ins, not models).",
)
@config_option
def demo(host: str, port: int, n_workers: int, model_specs: tuple[str, ...], rt) -> None:
    """Migrate, load the demo set, and run the web app with workers, all in one.

    Uses the embedded defaults (SQLite and a private redis-server in the
    instance folder) unless a database or Redis URL is configured. Ctrl-C or
    SIGTERM stops everything the demo started, the embedded redis-server too
    when the demo started it.

    Live battles: with no [models.*] configured and no --model given, the demo
    starts labelled local stand-in models (arena.demo_models: STAND-IN MODEL,
    NOT A MODEL; no network, no weights) and a generation worker, so / offers
    a prompt box; --model NAME=URL (repeatable) uses real endpoints instead.
    """
    from werkzeug.serving import make_server

    from arena.app import create_app
    from arena.importers import demo_set

    tables = dict(parse_model_spec(spec) for spec in model_specs)
    db.upgrade(rt.settings.database_url)
    loaded = demo_set.load(rt.engine)
    click.echo(
        f"demo set: {loaded['models']} models, {loaded['prompts']} prompts, "
        f"{loaded['answers']} answers"
    )
    redis_url, started_redis = queue.ensure_redis(rt.settings)
    standin = None
    # Listen before any worker starts: on a taken port make_server exits at once
    # (with werkzeug's message), which must leave no worker running.
    try:
        rt.settings, standin = demo_endpoints(rt, tables)
        server = make_server(host, port, create_app(rt.settings), threaded=True)
    except BaseException:
        if standin is not None:
            standin.stop()
        if started_redis:
            redis_server.stop(queue.embedded_folder(rt.settings))
        raise
    env = _child_env(rt, redis_url)
    config = child_config(rt.settings, rt.settings.instance_path)
    if config is not None:
        env["ARENA_CONFIG"] = str(config)
    children: list[subprocess.Popen] = []
    with stopped_by_signal(server):  # from before the first child starts
        try:
            # The demo recomputes ratings after every few votes, so the leaderboard moves.
            for _ in range(max(n_workers, 0)):
                command = [sys.executable, "-m", "arena", "worker", "--recompute-every", "3"]
                children.append(subprocess.Popen(command, env=env))
            if rt.settings.models:
                children.append(subprocess.Popen(GENERATE_COMMAND, env=env))
                names = ", ".join(sorted(rt.settings.models))
                kind = " (local stand-ins: STAND-IN MODEL, NOT A MODEL)" if standin else ""
                click.echo(f"live models: {names}{kind}")
            url = f"http://{host}:{server.server_port}/"
            click.echo(f"Arena demo running at {url}  (Ctrl-C stops it)", err=False)
            sys.stdout.flush()
            _serve(server)
        finally:
            stop_processes(children)
            if standin is not None:
                standin.stop()
            if started_redis:
                redis_server.stop(queue.embedded_folder(rt.settings))
            click.echo("demo stopped")


COMMANDS = [serve, worker, demo]
