"""Redis by role (issue 18): the queue and the rate limiter on their own Redis, reached through Sentinel, and
still working after Sentinel promotes the replica; the tracking state stays on ``LMS_REDIS_URL``."""

from __future__ import annotations

import dataclasses

import pytest
import redis
from rq import Queue

from lms.config import Config, ConfigError
from lms.core import jobs
from lms.core.redis import create_clients
from tests.conftest import csrf_token
from tests.support.redis_sentinel import SentinelGroup


@pytest.fixture(scope="module")
def sentinel_group(tmp_path_factory):
    if not SentinelGroup.available():
        pytest.skip("redis-server is not installed")  # scripts/bootstrap.sh installs it; CI always has it
    group = SentinelGroup(tmp_path_factory.mktemp("sentinel")).start()
    yield group
    group.stop()


def test_each_role_falls_back_to_the_default_redis_and_bad_urls_are_refused_in_chinese(tmp_path):
    base = {"LMS_DATA_DIR": str(tmp_path), "LMS_REDIS_URL": "redis://127.0.0.1:6379/0"}
    config = Config.from_env({**base, "LMS_QUEUE_REDIS_URL": "redis+sentinel://127.0.0.1:26379/0/q"})
    assert config.redis_url_for("queue") == "redis+sentinel://127.0.0.1:26379/0/q"
    assert config.redis_url_for("tracking") == config.redis_url_for("rate_limit") == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigError, match="也要设置 LMS_REDIS_URL"):
        Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_RATE_LIMIT_REDIS_URL": "redis://127.0.0.1/1"})
    for bad, message in (("redis+sentinel://127.0.0.1/0/q", "主机:端口"),
                         ("redis+sentinel://127.0.0.1:26379/q", "库号/主节点名称"),
                         ("redis+sentinel://:s3cret@127.0.0.1:26379/0", "库号/主节点名称"),
                         ("http://127.0.0.1:6379", "格式错误")):
        with pytest.raises(ConfigError, match=message) as refused:
            Config.from_env({**base, "LMS_TRACKING_REDIS_URL": bad})
        assert "s3cret" not in str(refused.value)


def test_roles_with_one_url_share_one_client(config):
    clients = create_clients(config)
    assert clients["tracking"] is clients["queue"] is clients["rate_limit"]


def test_the_queue_and_the_rate_limiter_live_on_a_sentinel_group_and_follow_its_failover(
        request, config, app_factory):
    if config.redis_url is None:
        pytest.skip("roles need LMS_REDIS_URL; the embedded mode has one in-process store")
    sentinel_group = request.getfixturevalue("sentinel_group")
    app = app_factory(dataclasses.replace(config, queue_redis_url=sentinel_group.url(0),
                                          rate_limit_redis_url=sentinel_group.url(1),
                                          login_rate_limit="3 per minute"))
    default = redis.Redis.from_url(config.redis_url)

    def master(db: int) -> redis.Redis:
        return redis.Redis(port=sentinel_group.master_port_now(), db=db)

    def enqueue(job_id: str) -> None:
        with app.app_context():
            jobs.enqueue(len, "x", job_id=job_id, queue=jobs.EXPORTS_QUEUE, retry=None)

    def failed_logins(client) -> list[int]:
        statuses = []
        for _ in range(4):
            statuses.append(client.post("/login", data={"login": "nobody", "password": "wrong",
                                                        "csrf_token": csrf_token(client, "/login")}).status_code)
        return statuses

    enqueue("on-sentinel-1")
    assert Queue(jobs.EXPORTS_QUEUE, connection=master(0)).job_ids == ["on-sentinel-1"]
    assert Queue(jobs.EXPORTS_QUEUE, connection=default).job_ids == []  # not on the default Redis
    assert app.extensions["lms.redis"].connection_pool.connection_kwargs["port"] == default.connection_pool \
        .connection_kwargs["port"]  # tracking stays on LMS_REDIS_URL
    client = app.test_client()
    assert failed_logins(client)[-1] == 429
    assert any(key.startswith(b"LIMITS") for key in master(1).keys("*"))
    assert client.get("/healthz/ready").status_code == 200

    old_master = sentinel_group.master_port_now()
    assert sentinel_group.fail_over() != old_master
    enqueue("on-sentinel-2")  # the Sentinel-managed pool found the new master by itself
    assert Queue(jobs.EXPORTS_QUEUE, connection=master(0)).job_ids == ["on-sentinel-1", "on-sentinel-2"]
    assert failed_logins(app.test_client())[-1] == 429  # the limiter's counters survived on the replica too
