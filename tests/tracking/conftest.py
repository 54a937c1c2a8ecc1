"""The tracking tests' third backend: the tracking state on a real 3-master Redis Cluster (with a replica each).

``cluster_app`` is the embedded app (SQLite, in-process queue) whose tracking role alone is the cluster, as
``LMS_TRACKING_REDIS_URL=redis+cluster://…`` makes it in production; the cluster is emptied after every test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade

from lms import create_app
from lms.config import Config
from lms.extensions import db
from tests.conftest import SECRET, _empty_database
from tests.support.redis_cluster import RedisClusterGroup


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> Iterator[RedisClusterGroup]:
    if not RedisClusterGroup.available():
        pytest.skip("redis-server is not installed")  # scripts/bootstrap.sh installs it; CI always has it
    group = RedisClusterGroup(tmp_path_factory.mktemp("redis-cluster")).start()
    yield group
    group.stop()


@pytest.fixture(scope="session")
def cluster_config(redis_cluster, tmp_path_factory) -> Config:
    config = Config.from_env({}, data_dir=tmp_path_factory.mktemp("lms-cluster"), secret_key=SECRET,
                             cookie_secure=False)
    config = dataclasses.replace(config, tracking_redis_url=redis_cluster.url())
    app = create_app(config)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return config


@pytest.fixture
def cluster_app(cluster_config, redis_cluster):
    app = create_app(cluster_config)
    app.config["TESTING"] = True
    with app.app_context():
        yield app
        db.session.remove()
        _empty_database()
        db.engine.dispose()
    redis_cluster.empty()
