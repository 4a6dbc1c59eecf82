"""`flask doctor`: what an operator must fix before (or while) serving, said in words.

Each check answers a Finding: ok, a warning (works, but not as production should), or a
problem (something will fail). The command exits non-zero when there is a problem. In
production every setting left at its development default (or missing) is a warning: the app
starts without them, which is exactly why they go unnoticed.
"""

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from redis.exceptions import RedisError

from dashboard.config import DEFAULT_MAIL_FROM
from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.observability.routes import database_problem, rate_limit_storage_problem
from dashboard.tools.registry import all_tools

ROOT = Path(__file__).resolve().parent.parent
# templates/base.html, and the usage and key pages' charts.
VENDOR_FILES = ("vendor/htmx.min.js", "vendor/bootstrap.min.css", "vendor/plotly-basic.min.js")


@dataclass(frozen=True)
class Finding:
    level: str  # "ok", "warning" or "problem"
    subject: str
    words: str


def ok(subject: str, words: str) -> Finding:
    return Finding("ok", subject, words)


def warning(subject: str, words: str) -> Finding:
    return Finding("warning", subject, words)


def problem(subject: str, words: str) -> Finding:
    return Finding("problem", subject, words)


def examine() -> list[Finding]:
    """Every check, in the order an operator would fix them."""
    findings = [
        check_secret_key(),
        check_public_url(),
        check_database_choice(),
        check_rate_limit_storage_choice(),
        check_queue_choice(),
        *check_mail(),
        *check_production_flags(),
        check_assets(),
    ]
    reachable = database_problem()
    if reachable:
        findings.append(problem("database", f"{reachable}: check DATABASE_URL"))
        return [*findings, *check_redis(), *check_queue_redis()]
    findings.append(ok("database", f"reachable ({db.engine.dialect.name})"))
    migrated = check_migrations()
    findings.append(migrated)
    if migrated.level == "ok":
        findings.append(check_tools_synced())
    return [*findings, *check_redis(), *check_queue_redis()]


def check_secret_key() -> Finding:
    config = current_app.config
    if not config["PRODUCTION"]:
        return ok("SECRET_KEY", "development: generated into instance/ when not set")
    if len(config["SECRET_KEY"]) < 32:
        return problem(
            "SECRET_KEY",
            "shorter than 32 characters: use `python -c 'import "
            "secrets; print(secrets.token_hex(32))'`",
        )
    return ok("SECRET_KEY", "set")


def check_public_url() -> Finding:
    """Set it is (the app does not start without it in production); say when it is plain http."""
    config = current_app.config
    url = config["PUBLIC_URL"]
    if not config["PRODUCTION"]:
        return ok("PUBLIC_URL", f"{url} (emailed links start with it)")
    host = urlsplit(url).hostname
    if url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
        return warning(
            "PUBLIC_URL",
            f"{url} is plain http: password-reset links would travel unencrypted; serve "
            "HTTPS and use https://",
        )
    others = ", ".join(config["EXTRA_TRUSTED_HOSTS"]) or "no other"
    return ok("PUBLIC_URL", f"{url}; requests for {host} and {others} are answered, others 400")


def check_rate_limit_storage_choice() -> Finding:
    uri = current_app.config["RATELIMIT_STORAGE_URI"]
    if uri == "memory://" and current_app.config["PRODUCTION"]:
        return warning(
            "rate limits",
            "counted in memory: each gunicorn worker keeps its own counters, so a key gets its "
            "limit once per worker; set RATELIMIT_STORAGE_URI=redis://...",
        )
    return ok("rate limits", "in memory (one process)" if uri == "memory://" else "shared")


def check_database_choice() -> Finding:
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite") and current_app.config["PRODUCTION"]:
        return warning(
            "DATABASE_URL",
            "SQLite (the development default): one writer at a time, on this machine only; "
            "set DATABASE_URL=postgresql://...",
        )
    return ok("DATABASE_URL", db.engine.dialect.name)


def check_queue_choice() -> Finding:
    """Where jobs wait: Redis in production, so `flask worker` sees what gunicorn queues."""
    url = current_app.config["QUEUE_URL"]
    if url.startswith(("redis://", "rediss://", "unix://")):
        return ok("QUEUE_URL", "jobs in Redis")
    if not current_app.config["PRODUCTION"]:
        return ok("QUEUE_URL", f"jobs in {url or 'instance/jobs.sqlite'} (development)")
    if url in ("memory://", "immediate://"):
        words = (
            f"{url} keeps jobs inside each web process: `flask worker` never sees them, so "
            "password-reset mail, alerts and webhooks are not sent; set QUEUE_URL=redis://..."
        )
    else:
        words = (
            f"jobs in a SQLite file ({url or 'instance/jobs.sqlite'}, the development default): "
            "one machine only, and `flask worker` must share that file; set QUEUE_URL=redis://..."
        )
    return warning("QUEUE_URL", words)


def check_mail() -> list[Finding]:
    config = current_app.config
    if not config["PRODUCTION"]:
        where = config["MAIL_SERVER"] or "the terminal and instance/" + config["MAIL_OUTBOX_FILE"]
        return [ok("MAIL_SERVER", f"mail goes to {where}")]
    findings = []
    if not config["MAIL_SERVER"]:
        findings.append(
            warning(
                "MAIL_SERVER",
                "not set: sign-up confirmations, password resets and alerts are not sent, only "
                "logged (recipient and subject); set MAIL_SERVER, MAIL_USERNAME, MAIL_PASSWORD",
            )
        )
    else:
        findings.append(ok("MAIL_SERVER", f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"))
    if config["MAIL_FROM"] == DEFAULT_MAIL_FROM:
        findings.append(
            warning(
                "MAIL_FROM",
                f"{DEFAULT_MAIL_FROM} (the development default): mail servers refuse or file "
                "as spam mail from a domain that is not yours; set MAIL_FROM",
            )
        )
    return findings


def check_production_flags() -> list[Finding]:
    """Settings that production turns on by default, turned off by hand."""
    config = current_app.config
    if not config["PRODUCTION"]:
        return []
    findings = []
    if not config["SESSION_COOKIE_SECURE"] and config["PUBLIC_URL"].startswith("https://"):
        findings.append(
            warning("SESSION_COOKIE_SECURE", "off: the session cookie would also travel over http")
        )
    if not config["TOOL_ISOLATION"]:
        findings.append(
            warning(
                "TOOL_ISOLATION",
                "off: tools run inside the web worker, with no deadline or memory cap",
            )
        )
    if config["LOG_FORMAT"] != "json":
        findings.append(
            warning("LOG_FORMAT", f"{config['LOG_FORMAT']}: log collectors expect one JSON line")
        )
    if config["WEBHOOK_ALLOW_PRIVATE"]:
        findings.append(
            warning(
                "WEBHOOK_ALLOW_PRIVATE",
                "on: customers' webhooks may reach this network's private addresses",
            )
        )
    return findings


def check_queue_redis() -> list[Finding]:
    if not current_app.config["QUEUE_URL"].startswith(("redis://", "rediss://", "unix://")):
        return []
    try:
        current_app.extensions["jobs"].huey.storage.conn.ping()
    except RedisError as error:
        cause = type(error).__name__
        return [problem("queue", f"Redis does not answer ({cause}): check QUEUE_URL")]
    return [ok("queue", "Redis answers")]


def check_redis() -> list[Finding]:
    if current_app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        return []
    unreachable = rate_limit_storage_problem()
    if unreachable:
        mode = "go through unlimited" if current_app.config["RATELIMIT_FAIL_OPEN"] else "get 503"
        return [problem("Redis", f"{unreachable}: calls {mode} until it is back")]
    return [ok("Redis", "reachable")]


def check_assets() -> Finding:
    static = Path(current_app.static_folder)
    missing = [name for name in VENDOR_FILES if not (static / name).is_file()]
    if missing:
        return problem(
            "front-end assets",
            f"{', '.join(missing)} missing from static/: pages would have no CSS or htmx; "
            "run `make assets`",
        )
    return ok("front-end assets", "htmx, Bootstrap and Plotly are in static/vendor/")


def check_migrations() -> Finding:
    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = set(ScriptDirectory.from_config(alembic_config).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return ok("migrations", f"at head ({', '.join(sorted(heads))})")
    if not current:
        words = "the database has no tables yet: run `flask --app wsgi db upgrade`"
    else:
        words = (
            f"the database is at {', '.join(sorted(current))}, the code expects "
            f"{', '.join(sorted(heads))}: run `flask --app wsgi db upgrade`"
        )
    return problem("migrations", words)


def check_tools_synced() -> Finding:
    stored = {tuple(row) for row in db.session.execute(sa.select(Tool.name, Tool.version))}
    missing = sorted(
        f"{tool.name} {tool.version}"
        for tool in all_tools()
        if (tool.name, tool.version) not in stored
    )
    if missing:
        return problem(
            "tools",
            f"not in the tools table, so not served: {', '.join(missing)}; "
            "run `flask --app wsgi tools sync`",
        )
    return ok("tools", f"{len(stored)} versions in the tools table")
