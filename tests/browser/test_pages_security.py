"""The pages in Chromium under their Content-Security-Policy: no violation on any page,
hostile model names inert in tables and charts, no horizontal overflow on phones."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from arena.importers import demo_set
from arena.models import Model
from tests.test_leaderboard import vote_many

pytestmark = pytest.mark.browser

HOSTILE_LINK = '<a href="https://example.invalid/phish" target="_blank">x</a>'
HOSTILE_SPAN = '<span style="font-size:80px">big</span>'

# Listens before any script runs: every CSP violation lands in window.__csp.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sample || "",
                     "@" + e.sourceFile + ":" + e.lineNumber + ":" + e.columnNumber].join(" "));
});
"""


@pytest.fixture
def settings(tmp_path, sqlite_url, redis_url, redis_conn):
    from tests.conftest import make_settings

    return make_settings(
        tmp_path, sqlite_url, redis_url, rating={"recompute_every": 5, "bootstrap": 50}
    )


@pytest.fixture
def csp_page(page):
    page.add_init_script(RECORD_VIOLATIONS)
    return page


def _rename(rt, old: str, new: str) -> None:
    with Session(rt.engine) as s:
        model = s.exec(select(Model).where(Model.name == old)).one()
        model.name = new
        s.commit()


@pytest.fixture
def hostile(rt):
    """The demo set with two models renamed to hostile markup, and ratings."""
    demo_set.load(rt.engine)
    _rename(rt, "brisk-3b", HOSTILE_LINK)
    _rename(rt, "scrawl-1b", HOSTILE_SPAN)
    vote_many(rt, 40)
    return rt


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_no_csp_violation_on_any_page(csp_page, live_server, hostile):
    from urllib.parse import quote

    paths = [
        "/",
        "/leaderboard",
        "/leaderboard?source=all",
        "/models/sage-34b",
        "/models/" + quote(HOSTILE_LINK, safe=""),
        "/no/such/page",
        "/api/docs",
    ]
    for path in paths:
        response = csp_page.goto(live_server + path)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        csp_page.wait_for_load_state("networkidle")
        if path.startswith("/leaderboard"):
            csp_page.wait_for_selector("#chart[data-rendered='1'] svg")
            csp_page.wait_for_selector("#heatmap[data-rendered='1'] svg")
            csp_page.wait_for_selector("#battle-counts[data-rendered='1'] svg")
        assert _violations(csp_page) == [], (path, _violations(csp_page))


def test_hostile_model_names_are_inert(csp_page, live_server, hostile):
    csp_page.goto(live_server + "/leaderboard")
    csp_page.wait_for_selector("#chart[data-rendered='1'] svg")
    csp_page.wait_for_selector("#heatmap[data-rendered='1'] svg")
    # no element anywhere links off-site, and no injected span got its style
    offsite = csp_page.evaluate(
        "Array.from(document.querySelectorAll('a')).map(function (a) {"
        " return a.getAttribute('href') || a.getAttribute('xlink:href') ||"
        " a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || ''; })"
        ".filter(function (h) { return new URL(h, location.href).host !== location.host; })"
    )
    assert offsite == []
    big = csp_page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(function (e) {"
        " return parseFloat(getComputedStyle(e).fontSize) >= 60; }).length"
    )
    assert big == 0
    table = csp_page.locator("#leaderboard").inner_text()
    assert HOSTILE_LINK in table and HOSTILE_SPAN in table  # shown as text
    chart_text = (
        csp_page.locator("#chart svg").first.text_content()
        + csp_page.locator("#chart").text_content()
    )
    assert "<a href=" in chart_text and "<span style=" in chart_text  # as text in the axis
    assert _violations(csp_page) == []


@pytest.mark.parametrize("width", [360, 390])
def test_no_horizontal_overflow_on_phones(browser, live_server, hostile, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        for path in ("/leaderboard", "/models/sage-34b", "/no/such/page"):
            page.goto(live_server + path)
            page.wait_for_load_state("networkidle")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path}: {scroll} px of content in {width} px"
    finally:
        context.close()


def test_404_page_in_the_site_layout(csp_page, live_server, rt):
    response = csp_page.goto(live_server + "/no/such/page")
    assert response.status == 404
    assert csp_page.locator("header.top .brand").count() == 1
    assert "Page not found" in csp_page.locator("#error-page").inner_text()
