"""gunicorn settings for Arena.

Use: ``gunicorn -c python:arena.web.gunicorn_conf -w 4 'arena.app:create_app()'``.

gunicorn answers some malformed requests itself, as plain text, before Flask sees them.
These settings hand as many of them as possible to Flask, which answers in JSON under
``/api/``:

* ``limit_request_line`` is raised to gunicorn's maximum (8190 bytes), so that a URL
  longer than Arena's own limit (:data:`arena.web.inputs.MAX_URL_CHARS`, 4094
  characters, gunicorn's default) reaches Flask and gets the JSON 414 ``uri_too_long``.
  A request line over 8190 bytes still gets gunicorn's own 414 (plain text, no JSON):
  gunicorn allows no higher limit, and ``0`` (no limit at all) would let any client
  make a worker buffer an unbounded line.
* Request headers over ``limit_request_field_size`` (8190 bytes) or more than
  ``limit_request_fields`` (100) of them, and bytes that are not HTTP at all, are
  refused by gunicorn with its own 400, which Flask cannot change.

Long-lived connections (live battles, :mod:`arena.web.live`): each browser watching a live
battle holds one server-sent-events connection while the answers stream, and that connection
holds a worker *thread* (waiting in Redis's ``XREAD BLOCK``, not on the CPU). gunicorn's default
``sync`` worker serves one request at a time per process, so a few streams would block every
other request. ``gthread`` workers with :data:`threads` threads each serve that many requests at
once per process; ``bench/live.py`` runs 64 battles at once through 2 such workers and measures
``/healthz`` during the streams against idle (docs/benchmarks.md). The relay ends each stream
after its turn (and after 5 minutes at most), so idle browsers do not keep threads.

Garbage collection (:func:`post_worker_init`): a worker's app, once made, holds a few hundred
thousand objects that live as long as the process (modules, SQLAlchemy's and Flask's tables,
numpy). Python's full collections walked them all while the streams ran, and each stopped every
thread of the worker: up to 218 ms (``bench/live.py``, 3-4 full collections per run, 2026-12-02).
Frozen after start-up (``gc.freeze``: out of every later collection's reach, freed by
reference counting as usual), the longest was 4.9 ms.

Everything else here is gunicorn's default; pass ``-w``, ``-b`` and the rest as usual
(``--threads`` overrides :data:`threads`).
"""

import gc

limit_request_line = 8190

worker_class = "gthread"
#: Requests served at once per worker process (a live battle's event stream is one of them).
threads = 64


def post_worker_init(worker) -> None:
    """gunicorn's hook once the worker has made the app: freeze what start-up made (module
    docstring)."""
    gc.freeze()
