"""Votes on leaked live battles and votes after the reveal: stored, left out of ratings by
default, counted with ``arena rate --include-leaked`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlmodel import Session

from arena import live, rating_store, style_store, votes
from arena.cli import main
from arena.models import Battle, BattleMessage, Model, Vote
from tests.conftest import count


def _live_vote(rt, winner: str, *, leak=False, after_reveal=False, seed=0) -> int:
    """A finished live battle between alpha and beta, voted for ``winner``."""
    with Session(rt.engine) as s:
        battle_id = live.start(
            s, rt.settings, np.random.default_rng(seed), text="Hi", rater_id=None
        )
        s.flush()
        s.execute(
            update(BattleMessage)
            .where(BattleMessage.battle_id == battle_id, BattleMessage.side != "user")
            .values(
                status="done",
                text="# Title\n\n- one\n- **two**\n",
                style_tokens=9,
                style_headers=1,
                style_lists=2,
                style_bold=1,
            )
        )
        b = s.get(Battle, battle_id)
        b.status, b.identity_leak = "ready", leak
        s.commit()
        left = s.get(Model, b.left_model_id).name
        payload = votes.payload_for(s, battle_id, "left" if left == winner else "right")
    payload["after_reveal"] = after_reveal
    assert votes.store(rt.engine, [payload]) == 1
    return battle_id


def test_leaked_and_after_reveal_votes_are_stored_not_counted(configure, tmp_path):
    rt = configure()
    for seed in range(3):
        _live_vote(rt, "alpha", seed=seed)
    _live_vote(rt, "beta", leak=True, seed=10)
    _live_vote(rt, "beta", after_reveal=True, seed=11)
    _live_vote(rt, "beta", seed=12)
    assert count(rt.engine, Vote) == 6
    with Session(rt.engine) as s:
        flags = s.execute(Vote.__table__.select().where(Vote.after_reveal)).all()
    assert len(flags) == 1
    table = rating_store.load_table(rt.engine)
    assert table.counts.sum() == 4
    assert rating_store.load_table(rt.engine, include_leaked=True).counts.sum() == 6
    rows, _ = rating_store.read_votes(rt.engine)
    assert len(rows) == 4
    assert len(rating_store.read_votes(rt.engine, include_leaked=True)[0]) == 6
    battles, _, origin = style_store.load_battles(rt.engine)
    assert battles.a.size == 4
    # a live battle's style counts come from its conversation, not from imported answers
    assert origin["without_answers"] == 0 and not np.any(battles.z)
    assert style_store.load_battles(rt.engine, include_leaked=True)[0].a.size == 6

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"[database]\nurl = {json.dumps(rt.settings.database_url)}\n"
        f"[arena]\ninstance = {json.dumps(str(tmp_path / 'i'))}\n"
    )
    runner = CliRunner()
    base = ["rate", "--config", str(cfg), "--format", "json", "--ci", "none"]
    plain = json.loads(runner.invoke(main, base).output)
    leaked = json.loads(runner.invoke(main, [*base, "--include-leaked"]).output)
    rows = {r["model"]: r for r in plain["models"]}
    assert plain["meta"]["battles"] == 4 and leaked["meta"]["battles"] == 6
    assert rows["alpha"]["rating"] > rows["beta"]["rating"]
    elo = json.loads(
        runner.invoke(main, [*base[:-2], "--method", "elo", "--include-leaked"]).output
    )
    assert elo["meta"]["battles"] == 6
    style = runner.invoke(main, [*base[:-2], "--style-control", "--include-leaked"])
    assert style.exit_code == 0, style.output
    refused = runner.invoke(main, ["rate", "--config", str(cfg), "--store", "--include-leaked"])
    assert refused.exit_code == 2 and "--include-leaked reads the votes" in refused.output


@pytest.mark.parametrize("flag", ["leak", "after_reveal"])
def test_the_vote_job_keeps_them_out_of_pair_counts(configure, flag):
    rt = configure()
    _live_vote(rt, "alpha", **{flag: True})
    assert count(rt.engine, Vote) == 1
    assert rating_store.load_table(rt.engine).counts.sum() == 0
