"""Health checks for the load balancer and the orchestrator, and the metrics for Prometheus."""

import hmac

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, jsonify, request
from limits.storage import storage_from_string

from dashboard.extensions import csrf, db
from dashboard.limits_storage import storage_options
from dashboard.observability.metrics import exposition

bp = Blueprint("observability", __name__)
csrf.exempt(bp)


@bp.get("/health/live")
def live():
    """Liveness: the process answers (no database or Redis work)."""
    return jsonify(status="alive")


@bp.get("/health/ready")
def ready():
    """Readiness: PostgreSQL (or SQLite) answers, and Redis when rate limits are kept there."""
    checks = {"database": database_problem()}
    if current_app.config["RATELIMIT_STORAGE_URI"] != "memory://":
        checks["rate_limit_storage"] = rate_limit_storage_problem()
    failing = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "unready" if failing else "ready",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    return jsonify(body), 503 if failing else 200


@bp.get("/metrics")
def metrics():
    """Prometheus's text format, for a scraper that sends `Authorization: Bearer METRICS_TOKEN`."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)  # off unless a token is set (or use METRICS_PORT, served by gunicorn)
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return Response(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"},
        )
    body, content_type = exposition()
    return Response(body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"})


def database_problem() -> str | None:
    """None when the database answers a query, else what went wrong, in words."""
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        return f"the database does not answer ({type(cause).__name__})"
    return None


def rate_limit_storage_problem() -> str | None:
    """None when the rate-limit storage (Redis) answers, else what went wrong."""
    app = current_app._get_current_object()
    storage = app.extensions.get("readiness_rate_limit_storage")
    if storage is None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        storage = storage_from_string(uri, **storage_options(uri, app.config))
        app.extensions["readiness_rate_limit_storage"] = storage
    if storage.check():
        return None
    return "the rate-limit storage (Redis) does not answer"
