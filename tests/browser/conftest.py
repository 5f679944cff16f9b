"""A real headless Chromium (Debian's) driven by playwright, and a live server."""

from __future__ import annotations

import os
import threading

import pytest

CHROMIUM = os.environ.get("ARENA_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def database_url(sqlite_url):
    """Browser tests run on SQLite only; the store is covered on both elsewhere."""
    return sqlite_url


@pytest.fixture(scope="package")
def browser():
    # Package scope, not session: playwright's sync API keeps an asyncio loop running in
    # this thread while it is open, and tests outside tests/browser/ that run their own
    # loop (asyncio.run) in the same process would fail (pytest-xdist mixes the files).
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def live_server(settings):
    """The app on a real HTTP server (loopback, a free port) in a thread."""
    from werkzeug.serving import make_server

    from arena.app import create_app

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
