"""Schemathesis against /api/v1/openapi.json: every described operation, no 5xx.

Schemathesis reads the app's own OpenAPI description and draws requests for each
operation (valid and invalid parameters and bodies), sent through the WSGI app on a
real SQLite database holding the demo set, votes and stored rating snapshots, with
the real Redis of the test run and a maintainer token (so the maintainer endpoints
run too). Checks: no answer is a 5xx; every answer's status code, content type and body
are the ones the description declares; and an operation that declares the bearer scheme
refuses the same request without the token or with a wrong one (``ignored_auth``: removing
``@require`` from the Parquet export makes this test fail). The run is bounded
(:data:`MAX_EXAMPLES` per operation and mode, no shrinking) to stay within seconds.

The live endpoints are fuzzed too. The app has two live models (the stand-in model server,
arena.demo_models: STAND-IN MODEL, NOT A MODEL) so that starting a battle succeeds and its
answer is checked, but no generation worker runs: the requests wait in Redis and no model is
ever called (the test asserts the stand-in saw no request), so fuzzing costs nothing and no
event stream hangs (an unguessable battle token is needed to open one).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select
from sqlmodel import Session

from arena import db, tokens
from arena.app import create_app
from arena.demo_models import Behaviour, StandinModels
from arena.importers import demo_set
from arena.models import Battle
from tests.conftest import make_settings
from tests.test_leaderboard import vote_many

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

MAX_EXAMPLES = int(os.environ.get("ARENA_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


@pytest.fixture(scope="module")
def standin():
    """Two live models that must never be called here (no generation worker runs)."""
    with StandinModels(dict.fromkeys(("fuzz-a", "fuzz-b"), Behaviour())) as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory, redis_url, standin):
    """The app on a database with the demo set, 30 votes and their snapshots, and two live
    models; a maintainer token."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    tmp = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{tmp / 'arena.db'}"
    db.upgrade(url)
    live_models = {name: {"base_url": standin.url} for name in ("fuzz-a", "fuzz-b")}
    app = create_app(
        make_settings(
            tmp,
            url,
            redis_url,
            rating={"recompute_every": 10, "bootstrap": 20},
            models=live_models,
        )
    )
    rt = app.extensions["arena.runtime"]
    demo_set.load(rt.engine)
    vote_many(rt, 30)
    token, _ = tokens.create(rt.engine, "schemathesis", "maintainer")
    yield app, token
    db.get_engine(url).dispose()


def test_api_conforms(served, standin):
    """Each operation, positive then negative data; every failure is listed at the end.

    The operations are driven one by one with ``APIOperation.as_strategy`` (schemathesis's
    own pytest integration does not run under this pytest version).
    """
    app, token = served
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 22  # DESCRIBED: 14 read and maintainer, 8 battle and live
    # identity: the WSGI transport does not undo the app's gzip/brotli compression
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    failures = []
    for operation in operations:
        for mode in GenerationMode:

            @given(case=operation.as_strategy(mode, headers=headers))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                derandomize="ARENA_SCHEMATHESIS_EXAMPLES" not in os.environ,
                database=None,
            )
            def run(case):
                response = case.call()
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break: no parameters
            except (Exception, BaseExceptionGroup) as exc:  # collected and reported below
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
    # Live battles were started (their answer checked), and no model was called.
    rt = app.extensions["arena.runtime"]
    with Session(rt.engine) as s:
        live = select(func.count()).select_from(Battle).where(Battle.origin == "live")
        assert s.execute(live).scalar_one() > 0
    assert standin.requests == []


def test_what_schemathesis_found(served):
    """Regressions of the failures the run above found, each as one plain request."""
    app, token = served
    client = app.test_client()
    # a snapshot id beyond SQLite's and PostgreSQL's 64-bit integers: 404, not an overflow 500
    res = client.get("/api/v1/snapshots/99999999999999999999")
    assert res.status_code == 404 and res.get_json()["error"] == "not_found"
    # documented answers: a bad format is 400, an unknown import kind 404
    assert client.get("/api/v1/snapshots/1?format=s").status_code == 400
    res = client.post(
        "/api/v1/maintainer/import/things", json=[], headers={"Authorization": f"Bearer {token}"}
    )
    assert res.status_code == 404
