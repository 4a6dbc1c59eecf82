"""The app as gunicorn serves it, plus two reference endpoints on the API app.

`GET /api/bench/bare` answers a small JSON object with no database work; `GET /api/bench/read`
makes one indexed PostgreSQL read (the key lookup's index) on the hot path's connection. Both
pass through the API app, its extension and its headers, so the difference to
`POST /api/v1/tools/echo` is the gateway's own cost. They exist only here, never in the product.
"""

import dataclasses
import hashlib

import sqlalchemy as sa
from flask import Blueprint, jsonify

from dashboard import create_wsgi_app
from dashboard.api.connection import fetch_one
from dashboard.models import ApiKey

reference = Blueprint("bench", __name__, url_prefix="/bench")
PROBE = hashlib.sha256(b"bench-probe").hexdigest()
READ = sa.select(ApiKey.id, ApiKey.rate_limit_per_minute).where(
    ApiKey.key == sa.bindparam("key_hash")
)


@reference.get("/bare")
def bare():
    """A JSON answer and nothing else."""
    return jsonify(status="ok", service="bench")


@reference.get("/read")
def read():
    """One indexed read: the unique index on api_keys.key."""
    found = fetch_one(READ, {"key_hash": PROBE})
    return jsonify(status="ok", found=found is not None)


app = create_wsgi_app()
app.extensions["api_app"].register_blueprint(reference)
# No rejections during the run (the bench account is on Scale): the account's limit is still
# counted on every call, it never says no. Keys get the same treatment in prepare_database.
for served in (app, app.extensions["api_app"]):
    plans = served.config["PLANS"]
    served.config["PLANS"] = {
        **plans,
        "scale": dataclasses.replace(
            plans["scale"], account_calls_per_minute=1_000_000_000, max_concurrent_calls=10_000
        ),
    }
