"""Pure rating computation: numpy/scipy in, arrays and dataclasses out.

Nothing in this package touches a database, Redis, Flask or files.

Entry points: :func:`rating.counts.aggregate` (battles -> counts),
:func:`rating.engine.rate` / :func:`rating.engine.rate_scopes` (counts ->
:class:`rating.snapshot.Result`) and :func:`rating.engine.rate_elo`.
"""

__version__ = "0.1.0"
