"""The leaderboard's style control, the composite tab, the human-vs-judge page and the model
page's composite signals over HTTP (real app, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from scipy import stats

from arena import rating_store
from arena.app import create_app
from arena.importers import demo_set, llmfao
from arena.importers.benchmarks import import_benchmarks
from tests.conftest import make_settings, shared_data
from tests.test_api_read import checked
from tests.test_leaderboard import vote_many

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DEMO = ("sage-34b", "middle-8b", "brisk-3b", "scrawl-1b")
# a long benchmark CSV for the demo models: sage best, scrawl worst
BENCHMARKS = "model,benchmark,subtask,score,n_items\n" + "".join(
    f"{name},{bench},,{score:.2f},{n}\n"
    for name, base in zip(DEMO, (0.8, 0.6, 0.5, 0.2), strict=True)
    for bench, score, n in (("gpqa", base, 448), ("math", base - 0.1, 1324))
)


def _app(tmp_path, database_url, redis_url, **rating):
    settings = make_settings(
        tmp_path,
        database_url,
        redis_url,
        rating={"recompute_every": 5, "bootstrap": 50, **rating},
    )
    return create_app(settings)


@pytest.fixture
def styled(tmp_path, database_url, redis_url, redis_conn):
    """The demo set with 40 votes; the recompute also stores style-controlled snapshots."""
    app = _app(tmp_path, database_url, redis_url, style_control=True)
    rt = app.extensions["arena.runtime"]
    demo_set.load(rt.engine)
    vote_many(rt, 40)
    return app


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _column(html: str, table_id: str, index: int) -> list[str]:
    """The text of column ``index`` of every body row of table ``table_id``."""
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr.*?</tr>", body, flags=re.S)
    cells = [re.findall(r"<td.*?</td>", r, flags=re.S)[index] for r in rows]
    return [_text(re.sub(r'<span class="badge".*?</span>', "", c)).strip() for c in cells]


def test_style_control_api(styled):
    client = styled.test_client()
    res = checked(client, "/api/v1/leaderboard?style_control=true")
    data = res.get_json()
    assert data["snapshot"]["method"] == "bt-style"
    assert data["compared_to"]["method"] == "bt"
    plain = client.get("/api/v1/leaderboard").get_json()
    assert data["compared_to"]["id"] == plain["snapshot"]["id"]
    plain_rank = {m["model"]: m["rank_ub"] for m in plain["models"]}
    assert {m["model"] for m in data["models"]} == set(DEMO)
    for m in data["models"]:
        assert m["rank_plain"] == plain_rank[m["model"]]
        assert m["rank_change"] == m["rank_plain"] - m["rank_ub"]
    gammas = data["meta"]["style"]["coefficients"]
    assert set(gammas) == {"tokens", "headers", "lists", "bold"}
    assert all(g["ci_low"] <= g["gamma"] <= g["ci_high"] for g in gammas.values())
    assert "bootstrap" not in data
    table = client.get("/api/v1/leaderboard?style_control=true&format=csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(table)))
    assert {"rank_plain", "rank_change"} <= set(rows[0]) and len(rows) == 4
    etag = res.headers["ETag"]
    again = client.get("/api/v1/leaderboard?style_control=true", headers={"If-None-Match": etag})
    assert again.status_code == 304
    wrong = client.get("/api/v1/leaderboard?style_control=true&method=elo")
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "bad_method"
    judge = client.get("/api/v1/leaderboard?style_control=true&source=all")
    assert judge.status_code == 404 and judge.get_json()["error"] == "no_snapshot"


def test_style_control_toggle_on_the_page(styled):
    client = styled.test_client()
    off = client.get("/leaderboard").get_data(as_text=True)
    assert 'id="style-select"' in off and "Rank (StyleCtrl)" not in off
    on = client.get("/leaderboard?style_control=1").get_data(as_text=True)
    assert "Rank (StyleCtrl)" in on and 'id="style-coefficients"' in on
    assert "answer length (tokens)" in on
    style = client.get("/api/v1/leaderboard?style_control=true").get_json()
    by_style = [m["model"] for m in sorted(style["models"], key=lambda m: m["rank_ub"])]
    assert _column(on, "leaderboard", 3) == [
        m["model"] for m in sorted(style["models"], key=lambda m: (m["rank_ub"], -m["rating"]))
    ]
    assert set(by_style) == set(DEMO)
    changes = dict(zip(_column(on, "leaderboard", 3), _column(on, "leaderboard", 1), strict=True))
    for m in style["models"]:
        want = m["rank_change"]
        assert changes[m["model"]] == (
            "=" if want == 0 else ("▲" if want > 0 else "▼") + str(abs(want))
        )
    coding = client.get("/leaderboard?category=coding&style_control=1").get_data(as_text=True)
    assert "Rank (StyleCtrl)" in coding and "category coding" in coding
    # the rating column shows the style-controlled ratings
    ratings = dict(zip(_column(on, "leaderboard", 3), _column(on, "leaderboard", 4), strict=True))
    assert all(ratings[m["model"]] == f"{m['rating']:.1f}" for m in style["models"])


def test_without_style_snapshots_the_page_says_how(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    rt = app.extensions["arena.runtime"]
    demo_set.load(rt.engine)
    vote_many(rt, 20)
    client = app.test_client()
    html = client.get("/leaderboard").get_data(as_text=True)
    assert 'id="style-howto"' in html and "arena rate --store --style-control" in html
    assert 'id="style-select"' not in html
    res = client.get("/api/v1/leaderboard?style_control=true")
    assert res.status_code == 404 and "style_control" in res.get_json()["reason"]


def test_composite_tab_empty_then_ranked(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    rt = app.extensions["arena.runtime"]
    client = app.test_client()
    empty = client.get("/leaderboard/composite")
    assert empty.status_code == 200
    text = _text(empty.get_data(as_text=True))
    assert "No composite rank yet" in text and "arena import benchmarks FILE" in text
    demo_set.load(rt.engine)
    vote_many(rt, 40)
    bench = tmp_path / "bench.csv"
    bench.write_text(BENCHMARKS)
    import_benchmarks(rt.engine, bench)
    html = client.get("/leaderboard/composite").get_data(as_text=True)
    api = checked(client, "/api/v1/rank").get_json()
    assert _column(html, "composite", 1) == [m["model"] for m in api["models"]]
    assert _column(html, "composite", 0) == [str(m["rank_ub"]) for m in api["models"]]
    assert 'id="good-fast"' in html  # demo answers have speeds, the CSV goodness
    points = re.search(r"data-points='([^']*)'", html).group(1)
    assert all(name in unescape(points) for name in DEMO)
    goodness = client.get("/leaderboard/composite?by=goodness").get_data(as_text=True)
    assert _column(goodness, "composite", 1)[0] == "sage-34b"  # best benchmarks
    unknown = client.get("/leaderboard/composite?category=%3Cb%3Enope")
    assert unknown.status_code == 404 and "&lt;b&gt;nope" in unknown.get_data(as_text=True)
    coding = client.get("/leaderboard/composite?category=coding")
    assert coding.status_code == 200 and 'id="composite"' in coding.get_data(as_text=True)
    bad = client.get("/leaderboard/composite?by=speed")
    assert bad.status_code == 400 and "by must be one of" in bad.get_data(as_text=True)
    # new signal rows refresh the cached page
    bench.write_text(BENCHMARKS.replace("scrawl-1b,gpqa,,0.20", "scrawl-1b,gpqa,,0.99"))
    import_benchmarks(rt.engine, bench)
    after = client.get("/leaderboard/composite").get_data(as_text=True)
    assert after != html


def test_model_page_shows_its_composite_signals(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    rt = app.extensions["arena.runtime"]
    client = app.test_client()
    demo_set.load(rt.engine)
    vote_many(rt, 40)
    before = client.get("/models/sage-34b").get_data(as_text=True)
    assert 'id="composite-signals"' in before and 'id="benchmark-scores"' not in before
    bench = tmp_path / "bench.csv"
    bench.write_text(BENCHMARKS)
    import_benchmarks(rt.engine, bench)
    html = client.get("/models/sage-34b").get_data(as_text=True)
    api = client.get("/api/v1/rank").get_json()
    row = next(m for m in api["models"] if m["model"] == "sage-34b")
    assert f"Composite rank (UB) {row['rank_ub']}" in _text(html)
    signals = dict(zip(_column(html, "signals", 0), _column(html, "signals", 2), strict=True))
    assert signals["Benchmarks"] == f"{row['signals']['benchmarks']['normalized']:.3f}"
    assert signals["Arena rating"] == f"{row['signals']['arena']['normalized']:.3f}"
    assert _column(html, "benchmark-scores", 0) == ["gpqa", "math"]
    assert _column(html, "benchmark-scores", 1)[0].startswith("0.8")
    data = checked(client, "/api/v1/models/sage-34b").get_json()["composite"]
    assert data["row"] == row
    assert [b["benchmark"] for b in data["stored"]["benchmarks"]] == ["gpqa", "math"]


def test_judges_page_without_judges(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    client = app.test_client()
    res = client.get("/leaderboard/judges")
    assert res.status_code == 200
    text = _text(res.get_data(as_text=True))
    assert "No judge votes yet" in text and "arena judge run" in text
    assert client.get("/leaderboard/judges?method=nope").status_code == 400
    assert "/leaderboard/judges" in client.get("/leaderboard").get_data(as_text=True)


def test_judges_page_on_llmfao(tmp_path, database_url, redis_url, redis_conn):
    """GPT-4's ranking of the LLMFAO models against the crowd's, from the stored snapshots."""
    app = _app(tmp_path, database_url, redis_url)
    rt = app.extensions["arena.runtime"]
    llmfao.import_dir(rt.engine, shared_data("llmfao"))
    rating_store.recompute(rt.engine, rt.settings["rating"], None)
    client = app.test_client()
    html = client.get("/leaderboard/judges").get_data(as_text=True)
    assert _column(html, "judges", 0) == ["gpt-4"]
    human = client.get("/api/v1/leaderboard").get_json()["models"]
    judge = client.get("/api/v1/leaderboard?source=judge:gpt-4").get_json()["models"]
    h = {m["model"]: m["rating"] for m in human}
    j = {m["model"]: m["rating"] for m in judge}
    common = sorted(set(h) & set(j))
    rho = stats.spearmanr([h[n] for n in common], [j[n] for n in common]).statistic
    tau = stats.kendalltau([h[n] for n in common], [j[n] for n in common]).statistic
    cell = _column(html, "judges", 2)[0]
    numbers = re.findall(r"-?\d\.\d\d", cell)
    assert len(numbers) == 3, cell  # the value and its interval
    value, low, high = map(float, numbers)
    assert value == pytest.approx(rho, abs=0.005) and low < high
    assert _column(html, "judges", 3)[0].startswith(f"{tau:.2f}")
    agreement = _column(html, "judges", 4)[0]
    assert re.match(r"0\.\d\d \(0\.\d\d to 0\.\d\d\) n=\d+", agreement), agreement
    assert _column(html, "judges", 6)[0].endswith("%")  # first-position win rate
    assert 'id="judge-ranks"' in html  # the chart's data
    assert sorted(_column(html, "ranks-1", 0)) == common  # one row per model both rate
