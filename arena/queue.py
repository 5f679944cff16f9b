"""Redis for Arena, and its rq queues.

The Redis URL is ``[redis] url``; empty means the embedded, detached redis-server
of the instance (:mod:`arena.redis_server`), started here when none answers.

Queues, each named by a setting:

=============  ======================  ==============================================
queue          setting                 jobs
=============  ======================  ==============================================
votes          ``[votes] queue``       store a vote (:func:`workers.ingest.store_vote`)
judge          ``[queues] judge``      a judge model votes on a battle (:mod:`workers.judge`)
recompute      ``[queues] recompute``  recompute rating snapshots (:mod:`workers.recompute`)
=============  ======================  ==============================================
"""

from __future__ import annotations

import redis
from rq import Queue

from arena import redis_server
from arena.config import Settings

#: The roles of Arena's queues, in the order a worker listens on them.
ROLES = ("votes", "judge", "recompute")


def queue_names(settings: Settings) -> dict[str, str]:
    """The name of each queue (role -> name), from the settings."""
    return {
        "votes": settings["votes"]["queue"],
        "judge": settings["queues"]["judge"],
        "recompute": settings["queues"]["recompute"],
    }


def queue_name(settings: Settings, role: str) -> str:
    """The name of the queue for ``role`` (``votes``, ``judge`` or ``recompute``)."""
    return queue_names(settings)[role]


def worker_queue_names(settings: Settings) -> list[str]:
    """The queues ``arena worker`` listens on: ``[worker] queues``, empty meaning all."""
    names = list(settings["worker"]["queues"])
    return names or list(queue_names(settings).values())


def embedded_folder(settings: Settings):
    """The folder of the instance's embedded redis-server."""
    return settings.instance_path / "redis"


def ensure_redis(settings: Settings) -> tuple[str, bool]:
    """The Redis URL, and whether this call started the embedded server for it."""
    if settings.redis_url:
        return settings.redis_url, False
    return redis_server.ensure_running(embedded_folder(settings))


def resolve_redis_url(settings: Settings, start: bool = True) -> str:
    """The Redis URL to use: the configured one, else the embedded server's.

    With ``start`` the embedded server is started (detached) when none answers;
    it keeps running after this process exits (``arena redis stop`` stops it).
    """
    if settings.redis_url:
        return settings.redis_url
    if start:
        return ensure_redis(settings)[0]
    url = redis_server.running_url(embedded_folder(settings))
    if url is None:
        raise RuntimeError("no Redis configured and no embedded server running")
    return url


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for ``settings`` (starting the embedded server if needed)."""
    return redis.Redis.from_url(resolve_redis_url(settings))


def get_queue(name: str, connection: redis.Redis) -> Queue:
    return Queue(name, connection=connection)


def queued_count(connection: redis.Redis, names) -> int:
    """Jobs waiting on the queues ``names``."""
    return sum(Queue(n, connection=connection).count for n in names)
