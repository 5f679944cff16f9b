"""The process's resolved settings, database engine and Redis connection.

The command line (``arena serve``, ``arena worker``, ...) and the app factory
call :func:`configure`; rq job functions call :func:`current`, which in a
worker started some other way (plain ``rq worker``) resolves the settings from
the environment exactly as the command line would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from sqlalchemy.engine import Engine

from arena import db, queue
from arena.config import Settings, load


@dataclass
class Runtime:
    settings: Settings
    _redis: redis.Redis | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        return db.get_engine(self.settings.database_url, self.settings["database"]["echo"])

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = queue.connect(self.settings)
        return self._redis

    def queue(self, name: str):
        """The rq queue called ``name``."""
        return queue.get_queue(name, self.redis)

    def queue_for(self, role: str):
        """The rq queue of ``role`` (``votes``, ``judge``, ``recompute``), named by the settings."""
        return self.queue(queue.queue_name(self.settings, role))


_current: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    global _current
    _current = Runtime(settings)
    return _current


def current() -> Runtime:
    if _current is None:
        return configure(load())
    return _current
