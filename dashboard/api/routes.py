"""JSON API routes (placeholder until the gateway lands)."""

from flask import Blueprint, jsonify

from dashboard.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # programs authenticate with API keys, not cookies


@bp.get("/v1/health")
def health():
    """A liveness check with no database work."""
    return jsonify(status="ok")
