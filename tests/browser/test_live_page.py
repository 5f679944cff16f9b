"""A rater's path through a live battle in headless Chromium, against the stand-in model
server (arena.demo_models: STAND-IN MODEL, NOT A MODEL) and the real generation worker:
type a prompt, watch both panes fill, ask a follow-up, vote with the keyboard, see the names;
the vote and the whole conversation are stored (SQLite and PostgreSQL). A failing side shows
its reason and no vote is possible; a leaked identity is flagged."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from sqlmodel import Session

from arena import db
from arena.demo_models import Behaviour, StandinModels, default_answer
from arena.models import Battle, BattleMessage, Model, Vote
from tests.browser.generation import running_generation_worker
from tests.conftest import _reset_postgres, make_settings, work

pytestmark = pytest.mark.browser


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """This module stores conversations: SQLite, and PostgreSQL when configured."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'arena.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    db.upgrade(url)
    yield url
    db.get_engine(url).dispose()


def answer(model: str, messages: list[dict]) -> str:
    """The stand-in's labelled answer without the model's name (which would flag a leak)."""
    return default_answer(model, messages).replace(f"`{model}`", "a stand-in")


def behaviours(**modes) -> dict[str, Behaviour]:
    out = {}
    for name in ("live-a", "live-b"):
        mode = modes.get(name.replace("-", "_"), "ok")
        out[name] = Behaviour(text=answer, chunks=25, delay=0.06, mode=mode, alias="LiveBot")
    return out


@pytest.fixture
def standin_models(request):
    modes = getattr(request, "param", {})
    with StandinModels(behaviours(**modes)) as server:
        yield server


@pytest.fixture
def settings(tmp_path, database_url, redis_url, redis_conn, standin_models):
    models = {
        "live-a": {"base_url": standin_models.url, "aliases": ["LiveBot"]},
        "live-b": {"base_url": standin_models.url},
    }
    return make_settings(tmp_path, database_url, redis_url, models=models)


@pytest.fixture
def generating(rt):
    with running_generation_worker(rt.settings):
        yield


def pane(page, turn: int, side: str) -> str:
    return f"#turn-{turn} .pane-{side}"


def watch_stream(page, turn: int) -> list[int]:
    """The left pane's text length, polled until both panes are done; the lengths seen."""
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = page.evaluate(
            """(turn) => {
                const panes = document.querySelectorAll('#turn-' + turn + ' .answer');
                if (panes.length < 2) { return null; }
                return {
                    length: panes[0].querySelector('.answer-text').textContent.length,
                    finished: [...panes].every(p => !p.classList.contains('streaming')
                        && (p.classList.contains('done') || p.classList.contains('failed'))),
                };
            }""",
            turn,
        )
        if state:
            seen.append(state["length"])
            if state["finished"]:
                return seen
        time.sleep(0.03)
    raise AssertionError(f"turn {turn} did not finish; lengths seen {seen[-5:]}")


def test_live_battle_streams_follows_up_votes_and_is_stored(page, live_server, rt, generating):
    errors = []
    # (a 409 from asking for the names before the worker stored the vote is expected)
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server + "/")
    assert "stored and may be published" in page.locator("#live-notice").inner_text()
    page.fill("#prompt-text", "Write a Python function that sorts numbers")
    page.click("#send")
    lengths = watch_stream(page, 1)
    final = lengths[-1]
    intermediate = {n for n in lengths if 0 < n < final}
    assert len(intermediate) >= 2, lengths  # the pane filled progressively
    # The finished answer is rendered Markdown, code highlighted, in both panes.
    left = page.locator(pane(page, 1, "left") + " .answer-text")
    assert left.locator("pre.highlight span.k").count() >= 1
    assert left.locator("h2").count() >= 1
    page.wait_for_selector("#vote-left:enabled")

    page.fill("#prompt-text", "And now explain it in one line")
    page.click("#send")
    watch_stream(page, 2)
    page.wait_for_selector("#vote-left:enabled")
    page.focus("#prompt-text")
    page.keyboard.type("1")  # typing a digit in the prompt box is typing, not voting
    assert page.locator("#vote-form").get_attribute("data-voted") is None
    assert page.input_value("#prompt-text") == "1"
    page.fill("#prompt-text", "")
    page.locator("#live-notice").click()  # focus out of the prompt box
    page.keyboard.press("2")  # B is better
    page.wait_for_selector("#next:not([hidden])")
    # The accepted vote (still queued) is enough for the names with their speeds.
    page.wait_for_selector('#live[data-revealed="1"]')
    work(rt)
    assert not errors, errors  # no script error, nothing the Content-Security-Policy refused
    names = page.locator(".pane-right .pane-title .model-name").first.inner_text()
    assert "tokens/s" in names and "first token" in names
    right_name = names.strip(" —").split(",")[0]
    assert right_name in ("live-a", "live-b")

    with Session(rt.engine) as s:
        vote = s.execute(select(Vote)).scalar_one()
        battle = s.get(Battle, vote.battle_id)
        assert battle.status == "voted" and battle.turns == 2
        assert s.get(Model, battle.right_model_id).name == right_name
        assert vote.choice == "right" and vote.winner == right_name
        messages = (
            s.execute(
                select(BattleMessage)
                .where(BattleMessage.battle_id == battle.id)
                .order_by(BattleMessage.turn, BattleMessage.side)
            )
            .scalars()
            .all()
        )
        users = [m.text for m in messages if m.side == "user"]
        assert users == [
            "Write a Python function that sorts numbers",
            "And now explain it in one line",
        ]
        answers = [m for m in messages if m.side != "user"]
        assert len(answers) == 4 and all(m.status == "done" for m in answers)
        for m in answers:
            model = s.get(
                Model, battle.left_model_id if m.side == "left" else battle.right_model_id
            ).name
            history = [{"role": "user", "content": u} for u in users[: m.turn]]
            assert m.text == answer(model, history)
            assert m.ttft_ms is not None and m.settings


@pytest.mark.parametrize("standin_models", [{"live_b": "error500"}], indirect=True)
def test_a_failing_side_shows_its_reason_and_cannot_be_voted(page, live_server, rt, generating):
    page.goto(live_server + "/")
    page.fill("#prompt-text", "Hello there")
    page.click("#send")
    page.wait_for_selector(".pane-error:not([hidden])")
    page.wait_for_selector("#next:not([hidden])")
    assert "500" in page.locator(".pane-error:not([hidden])").inner_text()
    assert page.locator("#vote-left").is_disabled()
    assert "cannot be voted" in page.locator("#status").inner_text()
    page.keyboard.press("1")
    with Session(rt.engine) as s:
        battle = s.execute(select(Battle)).scalar_one()
        assert battle.status == "failed" and "500" in (battle.failure or "")
    assert page.locator("#vote-form").get_attribute("data-voted") is None
    page.reload()  # after a reload: the same failure, still no vote
    page.wait_for_selector('#live[data-resumed="1"]')
    assert "500" in page.locator(".pane-error:not([hidden])").inner_text()
    assert page.locator("#vote-left").is_disabled()
    assert "cannot be voted" in page.locator("#status").inner_text()
    page.click("#new-battle")
    page.wait_for_selector("#prompt-text")
    assert page.locator(".turn").count() == 0


@pytest.mark.parametrize("standin_models", [{"live_a": "leak"}], indirect=True)
def test_a_leaked_identity_is_flagged(page, live_server, rt, generating):
    page.goto(live_server + "/")
    page.fill("#prompt-text", "Who are you?")
    page.click("#send")
    page.wait_for_selector("#vote-left:enabled")
    assert "flagged" in page.locator("#status").inner_text()
    with Session(rt.engine) as s:
        assert s.execute(select(Battle)).scalar_one().identity_leak is True


def test_live_page_works_on_a_narrow_phone(browser, live_server, rt, generating):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(live_server + "/")
    page.fill("#prompt-text", "Write a Python function with a long line of code")
    page.tap("#send")
    watch_stream(page, 1)
    left = page.locator(pane(page, 1, "left")).bounding_box()
    right = page.locator(pane(page, 1, "right")).bounding_box()
    assert right["y"] > left["y"] and left["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.tap("#vote-tie")
    page.wait_for_selector("#next:not([hidden])")
    context.close()


def test_curated_mode_stays_available(page, live_server, rt):
    from tests.conftest import seed

    seed(rt.engine)
    page.goto(live_server + "/?mode=curated")
    assert page.locator("#answer-left .answer-text").inner_text().startswith("model-")
    page.goto(live_server + "/")
    assert page.locator("#prompt-text").count() == 1


def test_regenerate_replaces_the_answers_and_is_recorded(page, live_server, rt, generating):
    page.goto(live_server + "/")
    page.fill("#prompt-text", "Tell me about rivers")
    page.click("#send")
    watch_stream(page, 1)
    page.wait_for_selector("#regenerate:enabled")
    page.click("#regenerate")
    page.wait_for_selector("#turn-1 .pane-left.streaming")  # emptied, answering again
    lengths = watch_stream(page, 1)
    assert lengths[0] < lengths[-1]  # and filled again
    page.wait_for_selector("#vote-left:enabled")
    with Session(rt.engine) as s:
        rows = s.execute(select(BattleMessage).where(BattleMessage.side != "user")).scalars().all()
    assert sorted((m.attempt, m.side) for m in rows) == [
        (0, "left"),
        (0, "right"),
        (1, "left"),
        (1, "right"),
    ]
    assert all(m.status == "done" for m in rows)


def texts_until_done(page, turn: int) -> dict[str, list[str]]:
    """Each pane's text while it streams, polled until both panes are finished."""
    seen: dict[str, list[str]] = {"left": [], "right": []}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = page.evaluate(
            """(turn) => [...document.querySelectorAll('#turn-' + turn + ' .answer')].map(p => ({
                side: p.dataset.side,
                text: p.querySelector('.answer-text').textContent,
                streaming: !p.classList.contains('done') && !p.classList.contains('failed'),
            }))""",
            turn,
        )
        for pane_state in state:
            if pane_state["streaming"] and pane_state["text"]:
                seen[pane_state["side"]].append(pane_state["text"])
        if len(state) == 2 and not any(p["streaming"] for p in state):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"turn {turn} did not finish")


def kept_battle(page) -> str | None:
    return page.evaluate("window.sessionStorage.getItem('arena.live.battle')")


def test_a_live_battle_survives_a_reload(page, live_server, rt, generating, standin_models):
    for name in ("live-a", "live-b"):  # slower: the reload comes well before the end
        standin_models.set(name, Behaviour(text=answer, chunks=40, delay=0.08, alias="LiveBot"))
    page.goto(live_server + "/")
    page.fill("#prompt-text", "Tell me about rivers and lakes")
    page.click("#send")
    # Mid-stream: some of the left answer is shown, none of it finished.
    page.wait_for_function(
        """() => {
            const p = document.querySelector('#turn-1 .pane-left');
            return p && p.classList.contains('streaming') && !p.classList.contains('done')
                && p.querySelector('.answer-text').textContent.length > 0;
        }"""
    )
    raw = kept_battle(page)
    kept = json.loads(raw)
    assert set(kept) >= {"id", "token", "lastId", "turnFrom"} and kept["lastId"]
    assert "live-a" not in raw and "live-b" not in raw  # never the model names

    page.reload()
    page.wait_for_selector('#live[data-resumed="1"]')
    assert page.locator(".turn").count() == 1
    assert page.locator("#turn-1 .user-text").inner_text() == "Tell me about rivers and lakes"
    assert page.locator("#prompt-category").is_hidden()
    streamed = texts_until_done(page, 1)
    assert streamed["left"] or streamed["right"]  # some of it streamed after the reload
    page.wait_for_selector("#vote-left:enabled")
    assert page.locator("#turn-1 .pane-left .answer-text h2").count() >= 1  # rendered
    with Session(rt.engine) as s:
        battle = s.get(Battle, kept["id"])
        rows = (
            s.execute(select(BattleMessage).where(BattleMessage.battle_id == battle.id))
            .scalars()
            .all()
        )
        answers = {m.side: m for m in rows if m.side != "user"}
        assert sorted(answers) == ["left", "right"] and len(rows) == 3
        assert all(m.status == "done" and m.attempt == 0 for m in answers.values())
        for side, texts in streamed.items():
            # what the resumed stream showed is the stored answer's beginning: no chunk lost
            # or repeated
            assert all(answers[side].text.startswith(t) for t in texts), (side, texts[-1])
        names = {
            "left": s.get(Model, battle.left_model_id).name,
            "right": s.get(Model, battle.right_model_id).name,
        }

    page.click("#vote-left")
    page.wait_for_selector('#live[data-revealed="1"]')
    work(rt)
    with Session(rt.engine) as s:
        vote = s.execute(select(Vote)).scalar_one()
        assert vote.battle_id == kept["id"] and vote.choice == "left"
        assert vote.winner == names["left"]
        assert s.get(Battle, kept["id"]).status == "voted"

    # After the vote a reload shows the battle, the vote and the names; nothing can be voted.
    page.reload()
    page.wait_for_selector('#live[data-revealed="1"]')
    assert names["left"] in page.locator(".pane-left .model-name").inner_text()
    assert names["right"] in page.locator(".pane-right .model-name").inner_text()
    assert page.locator("#vote-left").is_disabled()
    assert page.locator("#vote-form").get_attribute("data-voted") == "left"
    assert page.locator("#turn-1 .pane-left .answer-text h2").count() >= 1
    # Coming back to the page anew (not a reload) starts a new battle.
    page.goto(live_server + "/")
    page.wait_for_function("() => window.sessionStorage.getItem('arena.live.battle') === null")
    assert page.locator(".turn").count() == 0 and page.locator("#send").is_enabled()
    with Session(rt.engine) as s:
        assert len(s.execute(select(Vote)).all()) == 1


def test_a_stale_kept_battle_is_dropped(page, live_server, rt):
    page.goto(live_server + "/")
    page.evaluate(
        """() => window.sessionStorage.setItem('arena.live.battle', JSON.stringify(
            {id: 424242, token: 'not-a-token', lastId: '1-0', turnFrom: ''}))"""
    )
    page.reload()
    page.wait_for_function("() => window.sessionStorage.getItem('arena.live.battle') === null")
    assert page.locator(".turn").count() == 0
    assert page.locator("#send").is_enabled() and page.locator("#status").inner_text() == ""
