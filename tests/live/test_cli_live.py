"""``arena models check`` and ``arena worker --generate`` (a real process, stopped by SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from sqlmodel import Session

from arena import db, live, runtime
from arena.cli import main
from arena.config import load
from arena.demo_models import Behaviour, StandinModels
from arena.models import Battle


def write_config(
    path, *, models: dict, database_url="sqlite://", redis_url="", judges=None, **sections
):
    """An Arena config file with these ``[models.NAME]`` (and ``[judges.NAME]``) tables."""
    sections = {
        "arena": {"instance": str(path.parent / "instance"), "secret_key": "t"},
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        **sections,
        **{f"models.{json.dumps(name)}": table for name, table in models.items()},
        **{f"judges.{json.dumps(name)}": table for name, table in (judges or {}).items()},
    }
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_models_check_says_which_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_T_KEY", "sekret")
    models = {
        "good": Behaviour(text="Hello from a stand-in."),
        "broken": Behaviour(mode="error500"),
    }
    with StandinModels(models, api_key="sekret") as s:
        tables = {
            name: {"base_url": s.url, "api_key_env": "ARENA_T_KEY", "timeout": 5.0}
            for name in models
        }
        cfg = write_config(tmp_path / "c.toml", models=tables)
        runner = CliRunner()
        res = runner.invoke(main, ["models", "check", "--config", str(cfg)])
        assert res.exit_code == 1, res.output
        lines = res.output.splitlines()
        good = next(x for x in lines if x.startswith("good"))
        assert " ok " in good and "'Hello from a stand-in.'" in good
        broken = next(x for x in lines if x.startswith("broken"))
        assert "FAILED" in broken and "HTTP 500 from the endpoint" in broken
        assert "1 of 2 models did not answer" in res.output
        res = runner.invoke(
            main, ["models", "check", "--config", str(cfg), "--model", "good", "--prompt", "Hi?"]
        )
        assert res.exit_code == 0, res.output
        assert s.requests[-1]["body"]["messages"] == [{"role": "user", "content": "Hi?"}]
        assert s.requests[-1]["body"]["max_tokens"] == 32
        assert s.requests[-1]["authorization"] == "Bearer sekret"
        res = runner.invoke(main, ["models", "check", "--config", str(cfg), "--model", "nope"])
        assert res.exit_code == 1 and "no [models.nope]" in res.output


def test_models_check_without_models(tmp_path):
    cfg = write_config(tmp_path / "c.toml", models={})
    res = CliRunner().invoke(main, ["models", "check", "--config", str(cfg)])
    assert res.exit_code == 1 and "no live models are configured" in res.output


def test_a_bad_model_table_stops_the_command_with_one_line(tmp_path):
    cfg = write_config(tmp_path / "c.toml", models={"m": {"base_url": "http://x", "tmp": 1}})
    res = CliRunner().invoke(main, ["models", "check", "--config", str(cfg)])
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith("Error: ")
    assert "[models.m] has no key 'tmp'" in res.output


def _niceness(pid: int) -> int:
    """A process's nice value (field 19 of /proc/PID/stat, after the command's parentheses)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[16])


def test_worker_generate_streams_and_stops_on_sigterm(tmp_path, sqlite_url, redis_url, redis_conn):
    with StandinModels({"alpha": Behaviour(chunks=5), "beta": Behaviour(chunks=5)}) as s:
        tables = {n: {"base_url": s.url} for n in ("alpha", "beta")}
        cfg = write_config(
            tmp_path / "c.toml",
            models=tables,
            database_url=sqlite_url,
            redis_url=redis_url,
            worker={"nice": 3},
        )
        rt = runtime.configure(load(cfg, env={}))
        proc = subprocess.Popen(
            [sys.executable, "-m", "arena", "worker", "--generate", "--config", str(cfg)],
            env={**os.environ, "ARENA_CONFIG": ""},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            with Session(rt.engine) as session:
                battle_id = live.start(
                    session, rt.settings, np.random.default_rng(1), text="Hi", rater_id=None
                )
                session.commit()
            live.request_generation(rt.redis, rt.settings, battle_id, 1, 0)
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline and status not in ("ready", "failed"):
                time.sleep(0.1)
                with Session(rt.engine) as session:
                    status = session.get(Battle, battle_id).status
            assert status == "ready"
            # [worker] nice: the worker lowered its own priority (this process's is unchanged)
            assert _niceness(proc.pid) == os.nice(0) + 3
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "generation worker" in out
    db.get_engine(sqlite_url).dispose()


def test_worker_generate_refuses_rq_options(tmp_path):
    cfg = write_config(tmp_path / "c.toml", models={})
    res = CliRunner().invoke(main, ["worker", "--generate", "--burst", "--config", str(cfg)])
    assert res.exit_code == 2 and "--generate takes no --queue, --burst or --fork" in res.output
