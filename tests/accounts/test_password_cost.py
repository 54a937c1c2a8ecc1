"""The argon2 cost is a setting: new hashes take it, and a login rehashes a hash made at another cost."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from lms.accounts.passwords import hash_password, hasher_for
from lms.config import Config, ConfigError
from lms.extensions import db
from tests.conftest import PASSWORD, login


def test_the_cost_comes_from_the_environment_and_refuses_nonsense(tmp_path):
    config = Config.from_env({"LMS_PASSWORD_TIME_COST": "4", "LMS_PASSWORD_MEMORY_KIB": "131072"}, data_dir=tmp_path)
    assert (config.password_time_cost, config.password_memory_kib) == (4, 131072)
    default = Config.from_env({}, data_dir=tmp_path)
    assert (default.password_time_cost, default.password_memory_kib) == (3, 65536)
    with pytest.raises(ConfigError, match="LMS_PASSWORD_MEMORY_KIB"):
        Config.from_env({"LMS_PASSWORD_MEMORY_KIB": "8"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="LMS_PASSWORD_TIME_COST"):
        Config.from_env({"LMS_PASSWORD_TIME_COST": "zero"}, data_dir=tmp_path)


def test_a_login_rehashes_a_password_hashed_at_another_cost_with_the_configured_one(app, client, tree):
    learner = tree.learner_a
    learner.password_hash = hash_password(PASSWORD, hasher_for(2, 2048))
    db.session.commit()
    assert login(client, learner).status_code == 302
    db.session.refresh(learner)
    configured = app.extensions["lms.config"]
    parameters = extract_parameters(learner.password_hash)
    assert (parameters.time_cost, parameters.memory_cost) == (configured.password_time_cost,
                                                               configured.password_memory_kib)
    assert hash_password("x1234567").startswith(f"$argon2id$v=19$m={configured.password_memory_kib},"
                                                f"t={configured.password_time_cost},")
