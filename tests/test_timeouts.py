"""rq job timeouts hold when Python drops the alarm's exception (:mod:`workers.timeouts`):
``arena worker``'s two workers on a real Redis, the job landing the alarm in a weakref
callback, where Python drops it."""

from __future__ import annotations

import time
import weakref

import pytest
from rq.job import Job

from arena import runtime
from tests.conftest import make_settings
from workers.timeouts import REPEAT_SECONDS
from workers.vote_batches import VoteBatchWorker
from workers.worker_loop import ForkWorker


class _Thing:
    pass


def sleep_in_weakref_callback(seconds: float) -> None:
    """Sleep inside a weakref callback: an exception a signal handler raises there is
    printed ("Exception ignored in ...") and dropped, not raised in the caller."""
    thing = _Thing()
    ref = weakref.ref(thing, lambda _: time.sleep(seconds))
    del thing  # CPython frees it here and runs the callback
    assert ref() is None


def outlives_its_timeout(seconds: float) -> str:
    """The job: the first alarm (at 1 s) lands in the callback; it then sleeps on."""
    sleep_in_weakref_callback(1.5)
    time.sleep(seconds)
    return "ran on"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("worker_class", [VoteBatchWorker, ForkWorker])
def test_timeout_holds_when_the_first_alarm_is_dropped(
    tmp_path, sqlite_url, redis_url, redis_conn, worker_class
):
    rt = runtime.configure(make_settings(tmp_path, sqlite_url, redis_url))
    queue = rt.queue("judge")
    job = queue.enqueue(outlives_its_timeout, 2 * REPEAT_SECONDS + 1, job_timeout=1)
    worker_class([queue], connection=rt.redis).work(burst=True)
    job = Job.fetch(job.id, connection=rt.redis)
    assert job.get_status() == "failed"
    assert "JobTimeoutException" in job.latest_result().exc_string
