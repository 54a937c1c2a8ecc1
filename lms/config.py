"""Configuration read from ``LMS_*`` environment variables into one typed object.

Every setting has an embedded default, so a first run needs no variable at all:
SQLite in the data folder, a local-folder object store, an in-process
Redis-compatible store and media jobs on a worker thread. Setting
``LMS_DATABASE_URL`` / ``LMS_REDIS_URL`` / ``LMS_S3_*`` switches to PostgreSQL,
Redis and an S3 server with no code change.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from lms.tracking.settings import TrackingSettings


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says what to set."""


KNOWN_KEYS = {
    "LMS_SECRET_KEY",
    "LMS_INTEROP_RATE_LIMIT",
    "LMS_DATA_DIR",
    "LMS_DATABASE_URL",
    "LMS_DATABASE_REPLICA_URL",
    "LMS_DATABASE_POOL_SIZE",
    "LMS_DATABASE_MAX_OVERFLOW",
    "LMS_DATABASE_PGBOUNCER",
    "LMS_REDIS_URL",
    "LMS_TRACKING_REDIS_URL",
    "LMS_QUEUE_REDIS_URL",
    "LMS_RATE_LIMIT_REDIS_URL",
    "LMS_S3_ENDPOINT",
    "LMS_S3_ACCESS_KEY",
    "LMS_S3_SECRET_KEY",
    "LMS_S3_BUCKET",
    "LMS_S3_SECURE",
    "LMS_S3_REGION",
    "LMS_COOKIE_SECURE",
    "LMS_ASYNC_MODE",
    "LMS_LOGIN_RATE_LIMIT",
    "LMS_PRESIGN_SECONDS",
    "LMS_MEDIA_DELIVERY",
    "LMS_MEDIA_EDGE_URL",
    "LMS_MEDIA_EDGE_SECRET",
    "LMS_PUBLIC_URL",
    "LMS_LOG_LEVEL",
    "LMS_TRUSTED_PROXIES",
    "LMS_HLS_LADDER",
    "LMS_HLS_ENCRYPT",
    "LMS_MEDIA_MAX_SECONDS",
    "LMS_UPLOAD_MAX_BYTES",
    "LMS_CERTIFICATE_FONT",
    "LMS_CERTIFICATE_KEY",
    "LMS_VERIFY_RATE_LIMIT",
    "LMS_IMPORT_RATE_LIMIT",
    "LMS_EVIDENCE_MAX_BYTES",
    "LMS_EVIDENCE_MAX_FILES",
    "LMS_PASSWORD_TIME_COST",
    "LMS_EVIDENCE_RETENTION_MONTHS",
    "LMS_PASSWORD_MEMORY_KIB",
    "LMS_SMS_BACKEND",
    "LMS_SMS_URL",
    "LMS_SMS_TOKEN",
    "LMS_METRICS_TOKEN",
    "LMS_METRICS_PORT",
    "LMS_RESET_CODE_RATE_LIMIT",
    "LMS_RESET_ADDRESS_RATE_LIMIT",
}

TRACKING_PREFIX = "LMS_TRACKING_"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: dict, key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{key}={raw!r} 无法识别：请设置为 true 或 false。")


def _int(env: dict, key: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} 不是整数：请设置为 {minimum} 到 {maximum} 之间的整数。") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{key}={value} 超出范围：请设置为 {minimum} 到 {maximum} 之间的整数。")
    return value


REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")
# Only the tracking scripts are written for a Redis Cluster (one slot per call); RQ and Socket.IO are not.
TRACKING_REDIS_SCHEMES = (*REDIS_SCHEMES, "redis+cluster")
REDIS_ROLE_SETTINGS = {"tracking": "LMS_TRACKING_REDIS_URL", "queue": "LMS_QUEUE_REDIS_URL",
                       "rate_limit": "LMS_RATE_LIMIT_REDIS_URL"}


def _url(env: dict, key: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(key)
    if raw is None or raw == "":
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes:
        allowed = "、".join(f"{s}://" for s in schemes)
        shown = raw.replace(f":{parsed.password}@", ":***@", 1) if parsed.password else raw
        raise ConfigError(f"{key}={shown!r} 格式错误：应以 {allowed} 开头。")
    if parsed.scheme == "redis+sentinel":
        _check_sentinel_url(key, raw, parsed)
    elif parsed.scheme == "redis+cluster":
        _check_cluster_url(key, raw, parsed)
    elif parsed.scheme.startswith("postgresql") or parsed.scheme.startswith("redis"):
        if not parsed.hostname and not parsed.path:
            raise ConfigError(f"{key}={raw!r} 格式错误：缺少主机名。")
    return raw


def _check_cluster_url(key: str, raw: str, parsed) -> None:
    """``redis+cluster://[:password@]host:port,host:port/`` (startup nodes of a Redis Cluster; no database number)."""
    shown = raw.replace(f":{parsed.password}@", ":***@", 1) if parsed.password else raw
    hosts = parsed.netloc.split("@")[-1].split(",")
    if not all(host.rpartition(":")[0] and host.rpartition(":")[2].isdigit() for host in hosts):
        raise ConfigError(f"{key}={shown!r} 格式错误：集群节点应写成 主机:端口，多个用逗号分隔。")
    if parsed.path not in ("", "/"):
        raise ConfigError(f"{key}={shown!r} 格式错误：Redis 集群没有库号，应为 redis+cluster://主机:端口,…/。")


def _check_sentinel_url(key: str, raw: str, parsed) -> None:
    """``redis+sentinel://[:password@]host:port,host:port/db/service`` (the form python-socketio reads too)."""
    shown = raw.replace(f":{parsed.password}@", ":***@", 1) if parsed.password else raw
    hosts = parsed.netloc.split("@")[-1].split(",")
    if not all(host.rpartition(":")[0] and host.rpartition(":")[2].isdigit() for host in hosts):
        raise ConfigError(f"{key}={shown!r} 格式错误：哨兵地址应写成 主机:端口，多个用逗号分隔。")
    parts = parsed.path.split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2]:
        raise ConfigError(f"{key}={shown!r} 格式错误：应为 redis+sentinel://主机:端口,…/库号/主节点名称。")


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    secure: bool
    region: str | None


@dataclass(frozen=True)
class Config:
    """Everything the app reads from its environment, validated once at start-up."""

    secret_key: str
    data_dir: Path
    database_url: str
    redis_url: str | None
    s3: S3Settings | None
    # Redis by role (issue 18): each falls back to ``redis_url``. Tracking holds the hot watch state, the queue
    # holds RQ jobs and Socket.IO's message bus, the rate limiter its counters; each may be its own server.
    tracking_redis_url: str | None = None
    queue_redis_url: str | None = None
    rate_limit_redis_url: str | None = None
    # A PostgreSQL streaming replica for statistics and exports (lms.core.replica); None reads the primary.
    database_replica_url: str | None = None
    # Connections each process keeps to PostgreSQL (or to PgBouncer): pool_size kept open, max_overflow more at a
    # peak. docs/deployment.md adds them up against PgBouncer's client limit and PostgreSQL's max_connections.
    database_pool_size: int = 5
    database_max_overflow: int = 10
    # Behind PgBouncer in transaction pooling, a transaction may run on any server connection: psycopg must not
    # prepare statements server-side (it would find them missing on the next connection).
    database_pgbouncer: bool = False
    cookie_secure: bool = True
    async_mode: str = "threading"
    login_rate_limit: str = "5 per minute"
    presign_seconds: int = 300
    # How segment URLs are made: "presigned" (the object store's own signature, straight from storage) or "edge"
    # (a caching edge — nginx secure_link or a CDN's URL authentication — checks a short-lived token; the cache
    # key is the path, so one copy of a segment serves every learner). lms/player/edge.py.
    media_delivery: str = "presigned"
    media_edge_url: str = ""
    media_edge_secret: str | None = None
    public_url: str | None = None
    log_level: str = "INFO"
    trusted_proxies: int = 0
    hls_ladder: tuple[int, ...] = (360, 720)
    hls_encrypt: bool = False
    media_max_seconds: int = 4 * 3600
    upload_max_bytes: int = 20 * 1024**3
    tracking: dict = field(default_factory=dict)  # TrackingSettings overrides from LMS_TRACKING_<NAME>
    certificate_font: str = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    certificate_key: str | None = None  # signs verification codes; None: derived from secret_key
    verify_rate_limit: str = "30 per minute"
    import_rate_limit: str = "30 per hour"
    interop_rate_limit: str = "120 per minute"  # per registered client of the title-review interface
    evidence_max_bytes: int = 10 * 1024**2
    evidence_max_files: int = 5
    # argon2id cost of new password hashes (argon2-cffi's defaults: RFC 9106's low-memory profile). Tune to the
    # web nodes: each login costs one verification, so time × memory bounds the logins a core can take per second.
    # Months of viewing evidence (events, traces) kept on PostgreSQL before their monthly partition is dropped;
    # 0 keeps everything. 36: integrity records are kept three years (第二十一条), the evidence behind them too.
    evidence_retention_months: int = 36
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    # Text messages: "outbox" (a table, read by the demo and the tests) or "http" (a provider at sms_url).
    sms_backend: str = "outbox"
    sms_url: str | None = None
    sms_token: str | None = None
    # /metrics: a bearer token Prometheus sends (none: nginx alone keeps it private); the worker's own port.
    metrics_token: str | None = None
    metrics_port: int = 0
    reset_code_rate_limit: str = "3 per 10 minutes"  # password-reset codes requested per phone number
    reset_address_rate_limit: str = "10 per hour"  # password-reset codes requested per address
    extra: dict = field(default_factory=dict)

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    def redis_url_for(self, role: str) -> str | None:
        """The Redis of one role ("tracking", "queue", "rate_limit"): its own setting, else ``LMS_REDIS_URL``."""
        return getattr(self, f"{role}_redis_url") or self.redis_url

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Config:
        """Read and validate ``LMS_*`` settings; raise ConfigError naming what to fix."""
        env = dict(os.environ if env is None else env)
        for key in sorted(k for k in env if k.startswith("LMS_") and k not in KNOWN_KEYS):
            if not key.startswith(("LMS_TEST_", TRACKING_PREFIX)):
                warnings.warn(f"未知配置项 {key}，已忽略（可用的配置见 docs/configuration.md）。", stacklevel=2)

        # An explicit data_dir override must also move the default SQLite file and secret with it.
        data_dir = Path(overrides.get("data_dir") or env.get("LMS_DATA_DIR") or Path.cwd() / "instance").resolve()
        database_url = _url(env, "LMS_DATABASE_URL", ("sqlite", "postgresql", "postgresql+psycopg"))
        if database_url and database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        if database_url is None:
            database_url = f"sqlite:///{data_dir / 'lms.sqlite3'}"
        redis_url = _url(env, "LMS_REDIS_URL", REDIS_SCHEMES)
        role_urls = {role: _url(env, key, TRACKING_REDIS_SCHEMES if role == "tracking" else REDIS_SCHEMES)
                     for role, key in REDIS_ROLE_SETTINGS.items()}
        if redis_url is None and any(role_urls.values()):
            named = "、".join(REDIS_ROLE_SETTINGS[role] for role, url in role_urls.items() if url)
            raise ConfigError(f"设置了 {named} 时也要设置 LMS_REDIS_URL（其余用途的默认 Redis）。")
        replica_url = _url(env, "LMS_DATABASE_REPLICA_URL", ("postgresql", "postgresql+psycopg"))
        if replica_url and replica_url.startswith("postgresql://"):
            replica_url = "postgresql+psycopg://" + replica_url[len("postgresql://"):]
        if replica_url and database_url.startswith("sqlite"):
            raise ConfigError("LMS_DATABASE_REPLICA_URL 只能与 PostgreSQL 主库（LMS_DATABASE_URL）一起使用。")

        s3_keys = ("LMS_S3_ENDPOINT", "LMS_S3_ACCESS_KEY", "LMS_S3_SECRET_KEY", "LMS_S3_BUCKET")
        given = [k for k in s3_keys if env.get(k)]
        s3 = None
        if given:
            missing = [k for k in s3_keys if not env.get(k)]
            if missing:
                raise ConfigError(
                    f"已设置 {'、'.join(given)}，但缺少 {'、'.join(missing)}：使用 S3 存储时这四项都必须设置。"
                )
            endpoint = env["LMS_S3_ENDPOINT"]
            if "://" in endpoint or "/" in endpoint:
                raise ConfigError(
                    f"LMS_S3_ENDPOINT={endpoint!r} 格式错误：只写主机和端口，如 minio:9000；"
                    "是否使用 HTTPS 由 LMS_S3_SECURE 决定。"
                )
            bucket = env["LMS_S3_BUCKET"]
            if not 3 <= len(bucket) <= 63 or not all(c.islower() or c.isdigit() or c in "-." for c in bucket):
                raise ConfigError(f"LMS_S3_BUCKET={bucket!r} 不是合法的存储桶名：3–63 个小写字母、数字、点或连字符。")
            s3 = S3Settings(
                endpoint=endpoint,
                access_key=env["LMS_S3_ACCESS_KEY"],
                secret_key=env["LMS_S3_SECRET_KEY"],
                bucket=bucket,
                secure=_bool(env, "LMS_S3_SECURE", False),
                region=env.get("LMS_S3_REGION") or None,
            )

        secret_key = env.get("LMS_SECRET_KEY") or ""
        if secret_key and len(secret_key) < 32:
            raise ConfigError(
                "LMS_SECRET_KEY 太短：至少 32 个字符"
                "（可用 python -c 'import secrets; print(secrets.token_hex(32))' 生成）。"
            )
        if not secret_key:
            if not database_url.startswith("sqlite"):
                raise ConfigError(
                    "使用 PostgreSQL 时必须设置 LMS_SECRET_KEY（至少 32 个字符），多个 Web 进程要共用同一个值。"
                )
            secret_key = _embedded_secret(data_dir)

        async_mode = env.get("LMS_ASYNC_MODE") or "threading"
        if async_mode not in ("threading", "gevent"):
            raise ConfigError(f"LMS_ASYNC_MODE={async_mode!r} 无法识别：请设置为 threading 或 gevent。")

        values = dict(
            secret_key=secret_key,
            data_dir=data_dir,
            database_url=database_url,
            database_replica_url=replica_url,
            database_pool_size=_int(env, "LMS_DATABASE_POOL_SIZE", 5, 1, 200),
            database_max_overflow=_int(env, "LMS_DATABASE_MAX_OVERFLOW", 10, 0, 500),
            database_pgbouncer=_bool(env, "LMS_DATABASE_PGBOUNCER", False),
            redis_url=redis_url,
            **{f"{role}_redis_url": url for role, url in role_urls.items()},
            s3=s3,
            cookie_secure=_bool(env, "LMS_COOKIE_SECURE", True),
            async_mode=async_mode,
            login_rate_limit=env.get("LMS_LOGIN_RATE_LIMIT") or "5 per minute",
            presign_seconds=_int(env, "LMS_PRESIGN_SECONDS", 300, 10, 3600),
            **_media_delivery(env),
            public_url=env.get("LMS_PUBLIC_URL") or None,
            log_level=(env.get("LMS_LOG_LEVEL") or "INFO").upper(),
            metrics_token=env.get("LMS_METRICS_TOKEN") or None,
            metrics_port=_int(env, "LMS_METRICS_PORT", 0, 0, 65535),
            trusted_proxies=_int(env, "LMS_TRUSTED_PROXIES", 0, 0, 5),
            hls_ladder=_ladder(env),
            hls_encrypt=_bool(env, "LMS_HLS_ENCRYPT", False),
            media_max_seconds=_int(env, "LMS_MEDIA_MAX_SECONDS", 4 * 3600, 1, 24 * 3600),
            upload_max_bytes=_int(env, "LMS_UPLOAD_MAX_BYTES", 20 * 1024**3, 1024**2, 100 * 1024**3),
            tracking=_tracking(env),
            certificate_font=env.get("LMS_CERTIFICATE_FONT") or "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
            certificate_key=_certificate_key(env),
            verify_rate_limit=_rate_limit(env, "LMS_VERIFY_RATE_LIMIT", "30 per minute"),
            import_rate_limit=_rate_limit(env, "LMS_IMPORT_RATE_LIMIT", "30 per hour"),
            interop_rate_limit=_rate_limit(env, "LMS_INTEROP_RATE_LIMIT", "120 per minute"),
            evidence_max_bytes=_int(env, "LMS_EVIDENCE_MAX_BYTES", 10 * 1024**2, 64 * 1024, 1024**3),
            evidence_max_files=_int(env, "LMS_EVIDENCE_MAX_FILES", 5, 1, 50),
            password_time_cost=_int(env, "LMS_PASSWORD_TIME_COST", 3, 1, 20),
            evidence_retention_months=_int(env, "LMS_EVIDENCE_RETENTION_MONTHS", 36, 0, 240),
            password_memory_kib=_int(env, "LMS_PASSWORD_MEMORY_KIB", 65536, 1024, 4 * 1024**2),
            **_sms(env),
            reset_code_rate_limit=_rate_limit(env, "LMS_RESET_CODE_RATE_LIMIT", "3 per 10 minutes"),
            reset_address_rate_limit=_rate_limit(env, "LMS_RESET_ADDRESS_RATE_LIMIT", "10 per hour"),
        )
        values.update(overrides)
        return cls(**values)


def _ladder(env: dict) -> tuple[int, ...]:
    raw = env.get("LMS_HLS_LADDER") or "360,720"
    try:
        heights = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        raise ConfigError(f"LMS_HLS_LADDER={raw!r} 格式错误：写成以逗号分隔的画面高度，如 360,720。") from None
    if not heights or any(h < 144 or h > 2160 or h % 2 for h in heights):
        raise ConfigError(f"LMS_HLS_LADDER={raw!r} 无效：每个高度应为 144–2160 之间的偶数。")
    return heights


def _certificate_key(env: dict) -> str | None:
    # Separate from the session secret so that rotating LMS_SECRET_KEY (e.g. after a leak) does not make every
    # issued certificate fail verification; it must itself stay the same for as long as certificates are valid.
    value = (env.get("LMS_CERTIFICATE_KEY") or "").strip()
    if value and len(value) < 32:
        raise ConfigError("LMS_CERTIFICATE_KEY 太短：至少 32 个字符（可用 python -c 'import secrets; "
                          "print(secrets.token_hex(32))' 生成）。")
    return value or None


def _media_delivery(env: dict) -> dict:
    mode = (env.get("LMS_MEDIA_DELIVERY") or "presigned").strip().lower()
    if mode not in ("presigned", "edge"):
        raise ConfigError(f"LMS_MEDIA_DELIVERY={mode!r} 无法识别：请设置为 presigned（对象存储签名地址）"
                          "或 edge（缓存边缘节点校验令牌）。")
    if mode == "presigned":
        return {"media_delivery": mode}
    secret = (env.get("LMS_MEDIA_EDGE_SECRET") or "").strip()
    if len(secret) < 32:
        raise ConfigError("LMS_MEDIA_DELIVERY=edge 时必须设置 LMS_MEDIA_EDGE_SECRET"
                          "（至少 32 个字符，与边缘节点的配置相同）。")
    base = (env.get("LMS_MEDIA_EDGE_URL") or "").strip().rstrip("/")
    if base and not base.startswith(("http://", "https://")):
        raise ConfigError(f"LMS_MEDIA_EDGE_URL={base!r} 格式错误：应以 http:// 或 https:// 开头，"
                          "或留空（与本站同域）。")
    return {"media_delivery": mode, "media_edge_url": base, "media_edge_secret": secret}


def _sms(env: dict) -> dict:
    backend = (env.get("LMS_SMS_BACKEND") or "outbox").strip().lower()
    if backend not in ("outbox", "http"):
        raise ConfigError(f"LMS_SMS_BACKEND={backend!r} 无法识别：请设置为 outbox（写入短信发件箱表）或 http。")
    url = _url(env, "LMS_SMS_URL", ("http", "https"))
    if backend == "http" and url is None:
        raise ConfigError("LMS_SMS_BACKEND=http 时必须设置 LMS_SMS_URL（短信服务商的 HTTP 接口地址）。")
    return {"sms_backend": backend, "sms_url": url, "sms_token": env.get("LMS_SMS_TOKEN") or None}


def _rate_limit(env: dict, key: str, default: str) -> str:
    from limits import parse_many

    value = (env.get(key) or default).strip()
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{key}={value!r} 不是有效的频率限制：请写成“30 per minute”这样的形式。") from None
    return value


def _tracking(env: dict) -> dict:
    """Read ``LMS_TRACKING_<NAME>`` for each TrackingSettings field (e.g. LMS_TRACKING_HEARTBEAT_INTERVAL_S=1)."""
    fields = {TRACKING_PREFIX + f.name.upper(): f for f in dataclasses.fields(TrackingSettings)}
    unknown = sorted(k for k in env if k.startswith(TRACKING_PREFIX) and k not in fields and k not in KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"未知的计时配置项 {'、'.join(unknown)}：可用的有 {'、'.join(sorted(fields))}。")
    values = {}
    for key, spec in fields.items():
        raw = env.get(key)
        if raw is None or raw.strip() == "":
            continue
        # Annotations are strings (postponed evaluation): "float", "int" or "bool".
        if spec.type == "bool":
            values[spec.name] = _bool(env, key, spec.default)
        elif spec.type == "int":
            try:
                values[spec.name] = int(raw)
            except ValueError:
                raise ConfigError(f"{key}={raw!r} 不是整数：请设置为整数。") from None
        else:
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ConfigError(f"{key}={raw!r} 不是数字：请写成秒数或小数，如 1.5。") from None
            values[spec.name] = value
    try:
        TrackingSettings(**values)
    except ValueError as error:
        names = "、".join(TRACKING_PREFIX + name.upper() for name in values)
        raise ConfigError(f"{error}（请检查 {names}）") from None
    return values


def _embedded_secret(data_dir: Path) -> str:
    """Keep one random secret per data folder so sessions survive a restart of the embedded server."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
