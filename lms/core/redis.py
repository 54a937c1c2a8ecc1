"""The hot-state store: real Redis when ``LMS_REDIS_URL`` is set, else an in-process Redis-compatible server.

Both are reached through the same ``redis.Redis`` client API (fakeredis implements
the protocol, Lua scripts included), so the code path is the same in both modes.
"""

from __future__ import annotations

import fakeredis
import redis

from lms.config import Config

MAX_CONNECTIONS = 64


def create_connection_pool(config: Config) -> redis.ConnectionPool:
    """Build the one connection pool the app, the rate limiter and the jobs share."""
    if config.redis_url:
        # redis-py 8 raises on pool exhaustion; a blocking pool waits instead (STACK-NOTES).
        return redis.BlockingConnectionPool.from_url(
            config.redis_url, max_connections=MAX_CONNECTIONS, timeout=5, socket_connect_timeout=3, socket_timeout=5
        )
    server = fakeredis.FakeServer()
    return redis.ConnectionPool(connection_class=fakeredis.FakeRedisConnection, server=server)


def create_client(pool: redis.ConnectionPool) -> redis.Redis:
    """Return a client on the shared pool that decodes nothing (callers decide)."""
    return redis.Redis(connection_pool=pool)
