"""The Redis clients, one per role: real Redis (or a Sentinel group) when configured, else an in-process server.

Roles (``Config.redis_url_for``): ``tracking`` (the hot watch state, ``app.extensions["lms.redis"]``), ``queue``
(RQ jobs and Socket.IO's message bus, ``app.extensions["lms.redis.queue"]``) and ``rate_limit`` (Flask-Limiter's
counters). Roles with the same URL share one pool. Every URL is ``redis://``, ``rediss://``, ``unix://`` or
``redis+sentinel://[:password@]host:port,host:port/db/service`` — the Sentinel form python-socketio reads, so the
one setting means the same to every consumer; redis-py's own ``Sentinel`` finds the master and follows failovers.
The tracking role alone may also be a Redis Cluster, ``redis+cluster://[:password@]host:port,host:port/`` (some
startup nodes; redis-py's ``RedisCluster`` learns the rest and follows slot moves and failovers): its scripts
keep to one slot each (``lms/tracking/store.py``), while RQ and Socket.IO's bus need a single keyspace.
In-process mode uses fakeredis, which implements the protocol, Lua scripts included, so the code path is the same.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlparse

import fakeredis
import redis
from redis._parsers.commands import CommandPolicies, RequestPolicy, ResponsePolicy
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.policies import PolicyResolver, StaticPolicyResolver
from redis.sentinel import Sentinel
from socketio.redis_manager import parse_redis_sentinel_url

from lms.config import Config

MAX_CONNECTIONS = 64
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
TIMEOUTS = {"socket_connect_timeout": 3, "socket_timeout": 5}
ROLES = ("tracking", "queue", "rate_limit")


def is_sentinel(url: str | None) -> bool:
    return bool(url) and urlparse(url).scheme == SENTINEL_SCHEME


class _ScriptsByFirstKey(PolicyResolver):
    """EVAL/EVALSHA are keyed commands routed by their first key (redis-py's own ``determine_slot`` does so).

    Without a policy for them, redis-py 8.1's cluster pipeline asks the default node ``COMMAND GETKEYS`` for every
    EVALSHA it routes: a synchronous round trip per script call, which doubled the round trips of a tracking batch
    and put a third of the cluster's Redis work on one node (benchmarks/results/tracking-redis.md).
    """

    KEYED = CommandPolicies(request_policy=RequestPolicy.DEFAULT_KEYED, response_policy=ResponsePolicy.DEFAULT_KEYED)

    def __init__(self):
        self._static = StaticPolicyResolver()

    def resolve(self, command_name: str) -> CommandPolicies | None:
        if command_name in ("eval", "evalsha"):
            return self.KEYED
        return self._static.resolve(command_name)

    def with_fallback(self, fallback: PolicyResolver) -> PolicyResolver:
        return self


class TrackingCluster(RedisCluster):
    """A RedisCluster whose pipelines route script calls by their first key, as the client itself does."""

    def pipeline(self, transaction=None, shard_hint=None):
        pipe = super().pipeline(transaction, shard_hint)
        pipe._policy_resolver = self._policy_resolver  # redis-py 8.1 does not hand its resolver to the pipeline
        return pipe


def is_cluster(url: str | None) -> bool:
    return bool(url) and urlparse(url).scheme == CLUSTER_SCHEME


def cluster_startup_nodes(url: str) -> list[ClusterNode]:
    """The startup nodes of a ``redis+cluster://host:port,host:port/`` URL."""
    hosts = urlparse(url).netloc.rpartition("@")[2].split(",")
    return [ClusterNode(host.rpartition(":")[0], int(host.rpartition(":")[2])) for host in hosts]


def create_clients(config: Config) -> dict[str, redis.Redis]:
    """Return a client per role; roles sharing a URL (or the in-process server) share one client and pool."""
    by_url: dict[str | None, redis.Redis] = {}
    clients = {}
    for role in ROLES:
        url = config.redis_url_for(role)
        if url not in by_url:
            by_url[url] = client_for_url(url)
        clients[role] = by_url[url]
    return clients


def client_for_url(url: str | None, max_connections: int = MAX_CONNECTIONS, pool_timeout: int = 5) -> redis.Redis:
    """A client on a bounded pool for one URL (None: a new in-process server); waits for a free connection."""
    if url is None:
        server = fakeredis.FakeServer()
        return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=fakeredis.FakeRedisConnection,
                                                                server=server))
    if is_cluster(url):
        password = urlparse(url).password
        # max_connections is per node; a node that stops answering is found again through the others.
        return TrackingCluster(startup_nodes=cluster_startup_nodes(url),
                               password=unquote(password) if password else None, max_connections=max_connections,
                               require_full_coverage=True, policy_resolver=_ScriptsByFirstKey(), **TIMEOUTS)
    if is_sentinel(url):
        sentinels, service, options = parse_redis_sentinel_url(url)
        sentinel = Sentinel(sentinels, sentinel_kwargs=dict(TIMEOUTS), **TIMEOUTS)
        return sentinel.master_for(service, max_connections=max_connections, **options)
    # redis-py 8 raises on pool exhaustion; a blocking pool waits instead (STACK-NOTES).
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, **TIMEOUTS))


def rate_limit_storage(config: Config, client: redis.Redis) -> tuple[str, dict]:
    """Flask-Limiter's storage URI and options for the rate-limit role.

    Plain Redis and the in-process server share the role's pool; a Sentinel group is handed to ``limits`` in its
    own URI form (``redis+sentinel://host:port,…/service``, the database as an option).
    """
    url = config.redis_url_for("rate_limit")
    if not is_sentinel(url):
        return url or "redis://in-process", {"connection_pool": client.connection_pool}
    sentinels, service, options = parse_redis_sentinel_url(url)
    hosts = ",".join(f"{host}:{port}" for host, port in sentinels)
    auth = f":{quote(options['password'], safe='')}@" if options.get("password") else ""
    # use_replicas=False: a counter read from a lagging replica would let a burst of failed logins through.
    return f"{SENTINEL_SCHEME}://{auth}{hosts}/{service}", {"db": options.get("db", 0), "use_replicas": False,
                                                            "sentinel_kwargs": dict(TIMEOUTS), **TIMEOUTS}
