"""The app as gunicorn serves it, plus two reference endpoints for the gateway benchmark.

`GET /bench/bare` answers a small JSON object with no database work; `GET /bench/read` makes
one indexed PostgreSQL read (the key lookup's index). Both pass through the same app, middleware
and headers as the API, so the difference to `POST /api/v1/tools/echo` is the gateway's own cost.
They exist only in this module, never in the product.
"""

import dataclasses
import hashlib

import sqlalchemy as sa
from flask import Blueprint, jsonify

from dashboard import create_app
from dashboard.extensions import csrf, db
from dashboard.models import ApiKey

reference = Blueprint("bench", __name__, url_prefix="/bench")
csrf.exempt(reference)
PROBE = hashlib.sha256(b"bench-probe").hexdigest()


@reference.get("/bare")
def bare():
    """A JSON answer and nothing else."""
    return jsonify(status="ok", service="bench")


@reference.get("/read")
def read():
    """One indexed read: the unique index on api_keys.key."""
    found = db.session.execute(
        sa.select(ApiKey.id, ApiKey.rate_limit_per_minute).where(ApiKey.key == PROBE)
    ).first()
    db.session.rollback()
    return jsonify(status="ok", found=found is not None)


app = create_app()
app.register_blueprint(reference)
# No rejections during the run (the bench account is on Scale): the account's limit is still
# counted on every call, it never says no. Keys get the same treatment in prepare_database.
_scale = app.config["PLANS"]["scale"]
app.config["PLANS"] = {
    **app.config["PLANS"],
    "scale": dataclasses.replace(_scale, account_calls_per_minute=1_000_000_000),
}
