"""Start-up configuration: embedded defaults, switching to real components, clear errors."""

from __future__ import annotations

import pytest

from lms.config import Config, ConfigError

S3_ENV = {"LMS_S3_ENDPOINT": "127.0.0.1:9000", "LMS_S3_ACCESS_KEY": "key", "LMS_S3_SECRET_KEY": "secret",
          "LMS_S3_BUCKET": "lms-media"}


def test_no_variables_give_the_embedded_defaults(tmp_path):
    config = Config.from_env({"LMS_DATA_DIR": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path / 'lms.sqlite3'}"
    assert config.redis_url is None and config.s3 is None
    assert len(config.secret_key) == 64
    assert Config.from_env({"LMS_DATA_DIR": str(tmp_path)}).secret_key == config.secret_key


def test_real_components_are_switched_on_by_variables(tmp_path):
    config = Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_DATABASE_URL": "postgresql://u@db/lms",
                              "LMS_REDIS_URL": "redis://cache:6379/0", "LMS_SECRET_KEY": "k" * 32, **S3_ENV})
    assert config.database_url == "postgresql+psycopg://u@db/lms"
    assert config.redis_url == "redis://cache:6379/0"
    assert config.s3.bucket == "lms-media" and config.s3.secure is False


@pytest.mark.parametrize(("env", "message"), [
    ({"LMS_DATABASE_URL": "mysql://x/y"}, "LMS_DATABASE_URL"),
    ({"LMS_REDIS_URL": "http://cache"}, "LMS_REDIS_URL"),
    ({"LMS_S3_ENDPOINT": "127.0.0.1:9000"}, "缺少 LMS_S3_ACCESS_KEY"),
    ({**S3_ENV, "LMS_S3_ENDPOINT": "http://minio:9000"}, "只写主机和端口"),
    ({**S3_ENV, "LMS_S3_BUCKET": "AB"}, "存储桶名"),
    ({**S3_ENV, "LMS_S3_SECURE": "maybe"}, "LMS_S3_SECURE"),
    ({"LMS_DATABASE_URL": "postgresql://u@db/lms"}, "必须设置 LMS_SECRET_KEY"),
    ({"LMS_SECRET_KEY": "short"}, "LMS_SECRET_KEY 太短"),
    ({"LMS_PRESIGN_SECONDS": "abc"}, "不是整数"),
    ({"LMS_PRESIGN_SECONDS": "5"}, "超出范围"),
    ({"LMS_ASYNC_MODE": "eventlet"}, "LMS_ASYNC_MODE"),
], ids=["db-scheme", "redis-scheme", "s3-partial", "s3-endpoint-url", "s3-bucket", "s3-secure",
        "pg-without-secret", "short-secret", "presign-not-int", "presign-range", "async-mode"])
def test_missing_or_malformed_settings_stop_start_up_saying_what_to_set(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env({"LMS_DATA_DIR": str(tmp_path), **env})


def test_unknown_lms_variables_are_warned_about(tmp_path):
    with pytest.warns(UserWarning, match="LMS_DATABSE_URL"):
        Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_DATABSE_URL": "typo"})


def test_certificate_and_evidence_settings_come_from_the_environment(tmp_path):
    config = Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_CERTIFICATE_FONT": "/fonts/x.ttf",
                              "LMS_VERIFY_RATE_LIMIT": "10 per minute", "LMS_EVIDENCE_MAX_BYTES": "2097152",
                              "LMS_EVIDENCE_MAX_FILES": "3"})
    assert (config.certificate_font, config.verify_rate_limit) == ("/fonts/x.ttf", "10 per minute")
    assert (config.evidence_max_bytes, config.evidence_max_files) == (2097152, 3)
    with pytest.raises(ConfigError, match="LMS_VERIFY_RATE_LIMIT"):
        Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_VERIFY_RATE_LIMIT": "often"})
    with pytest.raises(ConfigError, match="LMS_EVIDENCE_MAX_FILES"):
        Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_EVIDENCE_MAX_FILES": "0"})


def test_the_certificate_key_is_optional_but_never_short(tmp_path):
    assert Config.from_env({"LMS_DATA_DIR": str(tmp_path)}).certificate_key is None
    key = "k" * 32
    assert Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_CERTIFICATE_KEY": key}).certificate_key == key
    with pytest.raises(ConfigError, match="LMS_CERTIFICATE_KEY"):
        Config.from_env({"LMS_DATA_DIR": str(tmp_path), "LMS_CERTIFICATE_KEY": "short"})
