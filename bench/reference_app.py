"""The reference server of ``bench/live.py``: a WSGI app that answers every request with a
constant ``{"status":"ok"}``, touching no database, no Redis and no Arena code.

It runs under gunicorn with Arena's own settings (``arena/web/gunicorn_conf.py``, gthread) in
a process of its own, and the benchmark's ``/healthz`` client asks it and Arena in turn, idle
and while the streams run. Its p99 ratio is what this machine gives a web process that does
nothing at all while the same load runs beside it: the floor under Arena's ratio.
"""

BODY = b'{"status":"ok"}\n'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    """Every request: 200 and :data:`BODY`."""
    start_response("200 OK", HEADERS)
    return [BODY]
