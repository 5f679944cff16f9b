"""The model page and the leaderboard's states in Chromium."""

from __future__ import annotations

import pytest

from arena.importers import demo_set
from tests.test_leaderboard import vote_many

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(tmp_path, sqlite_url, redis_url, redis_conn):
    from tests.conftest import make_settings

    return make_settings(
        tmp_path, sqlite_url, redis_url, rating={"recompute_every": 5, "bootstrap": 50}
    )


def test_model_page_shows_head_to_head_and_history(page, live_server, rt):
    demo_set.load(rt.engine)
    vote_many(rt, 30)
    vote_many(rt, 30, seed=2)  # a second snapshot: the history has two points
    page.goto(live_server + "/leaderboard")
    page.wait_for_selector("#over-time[data-rendered='1'] svg")  # two snapshots: a line each
    page.click("#leaderboard a:text-is('sage-34b')")
    page.wait_for_url("**/models/sage-34b")
    rows = page.locator("#head-to-head tbody tr")
    assert rows.count() == 3
    assert "/ 0 / 0" in rows.nth(0).inner_text()  # sage-34b won every battle
    assert page.locator("#history tbody tr").count() >= 2
    page.wait_for_selector("#rating-history[data-rendered='1'] svg")
    assert page.locator("details.sample").count() >= 1


def test_empty_leaderboard_says_what_to_do(page, live_server, rt):
    page.goto(live_server + "/leaderboard")
    text = page.locator("#no-snapshot").inner_text()
    assert "No ratings yet" in text and "`" not in text
    assert page.locator("select").count() == 0  # no empty dropdowns


def test_retired_models_hidden_behind_a_toggle(page, live_server, rt):
    from sqlmodel import Session, select

    from arena.models import Model

    demo_set.load(rt.engine)
    vote_many(rt, 30)
    with Session(rt.engine) as s:
        model = s.exec(select(Model).where(Model.name == "brisk-3b")).one()
        model.state = "retired"
        s.commit()
    page.goto(live_server + "/leaderboard")
    assert "brisk-3b" not in page.locator("#leaderboard").inner_text()
    page.click("#retired-toggle a")
    assert "brisk-3b" in page.locator("#leaderboard").inner_text()
    assert page.locator("tr.retired").count() == 1
