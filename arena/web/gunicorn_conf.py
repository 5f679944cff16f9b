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

Everything else here is gunicorn's default; pass ``-w``, ``-b`` and the rest as usual.
"""

limit_request_line = 8190
