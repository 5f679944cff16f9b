"""The real generation worker (workers/generate.py) running beside a test, in a thread."""

from __future__ import annotations

import contextlib
import threading


@contextlib.contextmanager
def running_generation_worker(settings):
    """Run :func:`workers.generate.run` on ``settings`` in a thread until the block ends."""
    from workers import generate

    stop = threading.Event()
    thread = threading.Thread(target=generate.run, args=(settings, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the generation worker did not stop"
