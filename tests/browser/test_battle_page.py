"""A person's path: open the page, vote, see the names, and the vote is in the database."""

from __future__ import annotations

import pytest
from rq import SimpleWorker
from sqlalchemy import select
from sqlmodel import Session

from arena.models import Battle, Model, Vote
from tests.conftest import seed

pytestmark = pytest.mark.browser


def test_vote_in_the_browser(page, live_server, rt):
    seed(rt.engine)
    page.goto(live_server + "/")
    assert page.locator("#answer-left .answer-text").inner_text().startswith("model-")
    assert page.locator("#name-left").inner_text() == ""
    page.click("#vote-left")
    page.wait_for_selector("#next:not([hidden])")
    left_name = page.locator("#name-left").inner_text().lstrip("— ").strip()
    right_name = page.locator("#name-right").inner_text().lstrip("— ").strip()
    assert left_name.startswith("model-") and right_name.startswith("model-")
    assert "recorded" in page.locator("#status").inner_text()
    # The vote waits on the queue until a worker stores it.
    SimpleWorker([rt.queue("votes")], connection=rt.redis).work(burst=True)
    with Session(rt.engine) as s:
        vote = s.execute(select(Vote)).scalar_one()
        battle = s.get(Battle, vote.battle_id)
        assert s.get(Model, battle.left_model_id).name == left_name
        assert s.get(Model, battle.right_model_id).name == right_name
        assert vote.choice == "left" and vote.winner == left_name and vote.source == "human"
        assert vote.rater_id and vote.rater_id == battle.rater_id
    page.click("#next-battle")
    page.wait_for_selector("#vote-tie")
    assert page.locator("#name-left").inner_text() == ""


def test_page_works_on_a_phone(browser, live_server, rt):
    seed(rt.engine)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(live_server + "/")
    left = page.locator("#answer-left").bounding_box()
    right = page.locator("#answer-right").bounding_box()
    assert right["y"] > left["y"]  # stacked, not squeezed side by side
    assert left["width"] <= 390
    page.tap("#vote-both-bad")
    page.wait_for_selector("#next:not([hidden])")
    context.close()


def test_empty_arena_explains_itself(page, live_server):
    page.goto(live_server + "/")
    assert "No battle to show" in page.content()
