"""The style-control toggle, the composite tab, the judges page and the model page's
signals in Chromium: the table changes, the charts draw, no CSP violation, no horizontal
overflow on a phone, hostile model names inert in the scatter."""

from __future__ import annotations

import csv
import io

import pytest

from arena import rating_store
from arena.importers import demo_set, llmfao
from arena.importers.benchmarks import import_benchmarks
from tests.browser.test_pages_security import HOSTILE_LINK, RECORD_VIOLATIONS, _rename
from tests.conftest import shared_data
from tests.test_leaderboard import vote_many
from tests.test_pages_views import BENCHMARKS

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(tmp_path, sqlite_url, redis_url, redis_conn):
    from tests.conftest import make_settings

    return make_settings(
        tmp_path,
        sqlite_url,
        redis_url,
        rating={"recompute_every": 5, "bootstrap": 50, "style_control": True},
    )


@pytest.fixture
def planted(rt, tmp_path):
    """The demo set with votes, style-controlled snapshots and benchmark scores."""
    demo_set.load(rt.engine)
    vote_many(rt, 40)
    bench = tmp_path / "bench.csv"
    bench.write_text(BENCHMARKS)
    import_benchmarks(rt.engine, bench)
    return rt


@pytest.fixture
def csp_page(page):
    page.add_init_script(RECORD_VIOLATIONS)
    return page


def _headers(page) -> list[str]:
    return page.locator("#leaderboard thead th").all_inner_texts()


def test_style_control_toggle_changes_the_table(csp_page, live_server, planted):
    page = csp_page
    page.goto(live_server + "/leaderboard")
    assert "Rank (StyleCtrl)" not in _headers(page)
    page.select_option("#style-select", "1")  # applies at once (scope.js)
    page.wait_for_url("**style_control=1*")
    assert _headers(page)[:2] == ["Rank (StyleCtrl)", "Change"]
    assert page.locator("#leaderboard tbody tr").count() == 4
    assert page.locator("#style-table tbody tr").count() == 4  # the four style features
    page.wait_for_selector("#chart[data-rendered='1'] svg")
    page.select_option("#style-select", "")
    page.wait_for_url(lambda url: "style_control=1" not in url)
    assert "Rank (StyleCtrl)" not in _headers(page)
    assert page.evaluate("window.__csp") == []


def test_composite_tab_and_its_scatter(csp_page, live_server, planted):
    page = csp_page
    page.goto(live_server + "/leaderboard")
    page.click("#composite-link")
    page.wait_for_url("**/leaderboard/composite")
    assert page.locator("#composite tbody tr").count() == 4
    page.wait_for_selector("#good-fast[data-rendered='1'] svg")
    assert page.locator("#good-fast .point").count() == 4  # one marker per model
    page.select_option("#by-select", "goodness")
    page.wait_for_url("**by=goodness*")
    assert page.locator("#composite tbody tr").first.inner_text().split()[1] == "sage-34b"
    assert page.evaluate("window.__csp") == []


def test_model_page_shows_its_signals(csp_page, live_server, planted):
    page = csp_page
    page.goto(live_server + "/models/sage-34b")
    assert page.locator("#signals tbody tr").count() == 5
    assert "Composite rank (UB)" in page.locator("#composite-current").inner_text()
    assert page.locator("#benchmark-scores tbody tr").count() == 2
    assert page.evaluate("window.__csp") == []


def test_judges_page_renders_its_chart(csp_page, live_server, rt):
    llmfao.import_dir(rt.engine, shared_data("llmfao"))
    rating_store.recompute(rt.engine, rt.settings["rating"], None)
    page = csp_page
    page.goto(live_server + "/leaderboard")
    page.click("#judges-link")
    page.wait_for_url("**/leaderboard/judges")
    assert page.locator("#judges tbody tr").count() == 1
    page.wait_for_selector("#judge-ranks[data-rendered='1'] svg")
    assert page.locator("#judge-ranks .point").count() > 10
    assert page.evaluate("window.__csp") == []


def test_hostile_names_inert_in_the_scatter(csp_page, live_server, rt, tmp_path):
    demo_set.load(rt.engine)
    _rename(rt, "brisk-3b", HOSTILE_LINK)
    vote_many(rt, 40)
    bench = tmp_path / "bench.csv"
    with open(bench, "w", newline="") as fh:  # the benchmark rows under the hostile name
        rows = list(csv.reader(io.StringIO(BENCHMARKS)))
        csv.writer(fh).writerows(
            [[HOSTILE_LINK if c == "brisk-3b" else c for c in r] for r in rows]
        )
    import_benchmarks(rt.engine, bench)
    page = csp_page
    page.goto(live_server + "/leaderboard/composite")
    page.wait_for_selector("#good-fast[data-rendered='1'] svg")
    offsite = page.evaluate(
        "Array.from(document.querySelectorAll('a')).map(function (a) {"
        " return a.getAttribute('href') || a.getAttribute('xlink:href') || ''; })"
        ".filter(function (h) { return new URL(h, location.href).host !== location.host; })"
    )
    assert offsite == []
    assert "<a href=" in page.locator("#good-fast").text_content()  # the name, as text
    assert HOSTILE_LINK in page.locator("#composite").inner_text()
    assert page.evaluate("window.__csp") == []


def test_no_horizontal_overflow_at_360(browser, live_server, planted):
    llmfao.import_dir(planted.engine, shared_data("llmfao"))
    rating_store.recompute(planted.engine, planted.settings["rating"], None)
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    try:
        for path in (
            "/leaderboard?style_control=1",
            "/leaderboard/composite",
            "/leaderboard/judges",
            "/models/sage-34b",
        ):
            page.goto(live_server + path)
            page.wait_for_load_state("networkidle")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= 360, f"{path}: {scroll} px of content in 360 px"
    finally:
        context.close()
