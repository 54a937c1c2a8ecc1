"""lms: the continuing-education server. ``create_app`` builds the Flask application."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from lms.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the application from a Config (read from ``LMS_*`` variables when not given)."""
    config = config or Config.from_env()
    app = Flask(__name__, instance_path=str(config.data_dir), instance_relative_config=False)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("lms").setLevel(config.log_level)
    app.config.update(_flask_settings(config))
    app.extensions["lms.config"] = config

    import lms.models  # noqa: F401 - every table known before migrations or queries
    from lms.rules import default_rule_sets

    default_rule_sets()  # a broken rule file stops start-up here, naming the file and the rule

    _init_extensions(app, config)
    _register_blueprints(app)
    if config.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind nginx the client's address and scheme come from X-Forwarded-*; rate limits need the real
        # address. Installed after Socket.IO so that it wraps Socket.IO's middleware too.
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from lms.core.http import register_error_handlers
    from lms.core.templating import register_template_helpers

    register_error_handlers(app)
    from lms.core import replica

    replica.init_app(app)
    register_template_helpers(app)

    from lms.cli import register_cli

    register_cli(app)
    return app


def database_engine_options(config: Config) -> dict:
    """SQLAlchemy engine options of the primary (and of the replica, but for its own URL)."""
    if config.embedded_database:
        return {"connect_args": {"timeout": 15}}
    options = {"pool_pre_ping": True, "pool_size": config.database_pool_size,
               "max_overflow": config.database_max_overflow}
    if config.database_pgbouncer:
        options["connect_args"] = {"prepare_threshold": None}
    return options


def _flask_settings(config: Config) -> dict:
    engine_options = database_engine_options(config)
    return {
        "SECRET_KEY": config.secret_key,
        "SQLALCHEMY_DATABASE_URI": config.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SQLALCHEMY_BINDS": ({"replica": {"url": config.database_replica_url, **engine_options}}
                             if config.database_replica_url else {}),
        "SESSION_COOKIE_SECURE": config.cookie_secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "lms_session",
        "REMEMBER_COOKIE_SECURE": config.cookie_secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,  # forms and JSON only; video goes straight to object storage
        "API_TITLE": "lms API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "RATELIMIT_HEADERS_ENABLED": True,
        "JSON_AS_ASCII": False,
        "LMS_CERTIFICATE_FONT": config.certificate_font,
        "LMS_CERTIFICATE_KEY": config.certificate_key,
        "LMS_VERIFY_RATE_LIMIT": config.verify_rate_limit,
        "LMS_IMPORT_RATE_LIMIT": config.import_rate_limit,
        "LMS_INTEROP_RATE_LIMIT": config.interop_rate_limit,
        "LMS_DECLARATIONS": {"evidence_max_bytes": config.evidence_max_bytes,
                             "evidence_max_files": config.evidence_max_files},
    }


def _init_extensions(app: Flask, config: Config) -> None:
    import socketio as socketio_pkg

    from lms.accounts.passwords import hasher_for
    from lms.core import socketio_json
    from lms.core.api import LmsApi
    from lms.core.redis import create_clients, rate_limit_storage
    from lms.core.storage import create_object_store
    from lms.extensions import csrf, db, limiter, login_manager, migrate, socketio
    from lms.tracking import partitions

    app.extensions["lms.password_hasher"] = hasher_for(config.password_time_cost, config.password_memory_kib)
    redis_clients = create_clients(config)
    app.extensions["lms.redis"] = redis_clients["tracking"]
    app.extensions["lms.redis.queue"] = redis_clients["queue"]
    app.extensions["lms.storage"] = create_object_store(config)
    # The rate limiter counts in its role's Redis (by default the same one), or the in-process one.
    app.config["RATELIMIT_STORAGE_URI"], app.config["RATELIMIT_STORAGE_OPTIONS"] = rate_limit_storage(
        config, redis_clients["rate_limit"])

    db.init_app(app)
    if config.embedded_database:
        with app.app_context():
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"),
                     include_name=partitions.include_name)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    # Flask-Limiter merges each app's storage options into the one global limiter; an app's options must not
    # leak into the next app built in the same process (tests build many, with and without Sentinel).
    limiter._storage_options = {}
    limiter.init_app(app)
    client_manager = None
    if config.redis_url:
        # Several web processes share Socket.IO rooms through Redis; a sized pool (STACK-NOTES).
        client_manager = socketio_pkg.RedisManager(config.redis_url_for("queue"), channel="flask-socketio",
                                                    redis_options={"max_connections": 50})
    # async_handlers=False: an event runs in its connection's reader greenlet instead of a new greenlet per
    # event, which cost a tenth of a heartbeat's server CPU; a connection's events then run in order, one at a
    # time, which is what a playback's heartbeat chain needs anyway. The server never calls a client (call()).
    socketio.init_app(app, async_mode=config.async_mode, client_manager=client_manager,
                      cors_allowed_origins=config.public_url or None, async_handlers=False, json=socketio_json)
    from lms.courses.events import register_socketio_namespaces
    from lms.tracking.events import register_tracking_namespace

    register_socketio_namespaces(socketio)
    register_tracking_namespace(socketio)
    # flask-smorest keeps the OpenAPI document on the Api object, so each app gets its own.
    app.extensions["lms.api"] = LmsApi(app)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _register_blueprints(app: Flask) -> None:
    from lms.accounts.api import blp as accounts_api
    from lms.accounts.change_api import blp as person_changes_api
    from lms.accounts.change_views import bp as person_change_pages
    from lms.accounts.views import bp as accounts_pages
    from lms.addresses.api import blp as addresses_api
    from lms.addresses.views import bp as address_pages
    from lms.audit.views import bp as audit_pages
    from lms.certificates.api import blp as certificates_api
    from lms.certificates.views import bp as certificate_pages
    from lms.core import metrics
    from lms.core.health import bp as health
    from lms.core.storage_views import storage_bp
    from lms.courses.api import blp as courses_api
    from lms.courses.upload_api import blp as uploads_api
    from lms.courses.views import bp as courses_pages
    from lms.declarations.api import blp as declarations_api
    from lms.declarations.integrity_views import bp as integrity_pages
    from lms.declarations.review_api import blp as declaration_reviews_api
    from lms.declarations.views import bp as declaration_pages
    from lms.exams.api import bp as exams_api
    from lms.exams.learner_api import blp as quiz_api
    from lms.exams.views import bp as exams_pages
    from lms.extensions import csrf
    from lms.interop.api import blp as interop_api
    from lms.ledger.api import blp as ledger_api
    from lms.ledger.views import bp as ledger_pages
    from lms.notices.api import blp as notices_api
    from lms.notices.notification_api import blp as notifications_api
    from lms.notices.notification_views import bp as notification_pages
    from lms.notices.views import bp as notice_pages
    from lms.notify.views import bp as notify_pages
    from lms.orgs.admin_api import blp as org_admin_api
    from lms.orgs.api import blp as orgs_api
    from lms.orgs.change_api import blp as org_changes_api
    from lms.orgs.change_views import bp as org_change_pages
    from lms.orgs.structure_api import blp as org_structure_api
    from lms.orgs.views import bp as orgs_pages
    from lms.plans.api import blp as plans_api
    from lms.plans.training_views import bp as training_pages
    from lms.plans.views import bp as plan_pages
    from lms.player.origin_views import bp as media_origin
    from lms.player.views import bp as player
    from lms.review.api import blp as review_api
    from lms.review.attempt_api import blp as review_attempts_api
    from lms.review.attempt_views import bp as review_attempt_pages
    from lms.review.views import bp as review_pages
    from lms.statistics.api import blp as statistics_api
    from lms.statistics.views import bp as statistics_pages
    from lms.transfers.api import blp as transfers_api
    from lms.transfers.views import bp as transfer_pages

    # exams_api: the quiz attempt page's own JSON calls, CSRF-checked like the forms.
    metrics.init_app(app)
    for blueprint in (health, storage_bp, accounts_pages, orgs_pages, courses_pages, player, ledger_pages,
                      certificate_pages, review_pages, review_attempt_pages, declaration_pages, exams_pages, exams_api,
                      audit_pages, statistics_pages, notify_pages, transfer_pages, notice_pages, address_pages,
                      person_change_pages, org_change_pages, media_origin, notification_pages, training_pages,
                      integrity_pages, plan_pages):
        app.register_blueprint(blueprint)
    api = app.extensions["lms.api"]
    for blueprint in (accounts_api, orgs_api, org_admin_api, org_structure_api, courses_api, uploads_api, review_api,
                      statistics_api, transfers_api, notices_api, addresses_api, review_attempts_api,
                      person_changes_api, org_changes_api, notifications_api, declaration_reviews_api,
                      declarations_api, ledger_api, certificates_api, quiz_api, interop_api, plans_api):
        # The API authenticates by bearer token (or, for uploads, a session plus an X-CSRFToken header that
        # the view checks itself), so form CSRF does not apply.
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
