"""The leaderboard page in Chromium: table, and the plotly chart served from our own route."""

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


def test_leaderboard_page_shows_ratings_and_chart(page, live_server, rt):
    demo_set.load(rt.engine)
    page.goto(live_server + "/leaderboard")
    assert page.locator("#no-snapshot").count() == 1
    vote_many(rt, 30)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(live_server + "/leaderboard")
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() == 4
    assert "sage-34b" in rows.nth(0).inner_text()
    page.wait_for_selector("#chart[data-rendered='1'] svg")
    assert all(u.startswith(live_server) for u in requests)  # nothing from elsewhere
    human = page.locator("#snapshot-meta").inner_text()
    page.select_option("#source-select", "all")  # applies at once (scope.js)
    page.wait_for_url("**/leaderboard?*source=all*")
    assert page.locator("#leaderboard tbody tr").count() >= 2
    assert "all sources" in page.locator("#snapshot-meta").inner_text() != human
    page.goto(live_server + "/leaderboard")  # back to human votes: they have category snapshots
    page.select_option("#category-select", "coding")
    page.wait_for_url("**category=coding*")
    assert "category coding" in page.locator("#snapshot-meta").inner_text()
    assert page.locator("#leaderboard tbody tr").count() >= 2
