"""The benchmark's reference apps still do what their figures claim: (e) answers a small JSON
object, (f) writes a real metered call with the product's own statement. They are not part of
the product, but a reference that stopped working would make `bench.gateway` print nonsense."""

import importlib
import sys

import sqlalchemy as sa

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ToolLog, UsageSummary
from tests.conftest import (
    PASSWORD,
    REDIS_SERVER,
    empty_tables,
    make_app,
    require_postgres,
    require_redis,
)


def test_plain_flask_answers():
    from bench.plain import app

    answer = app.test_client().get("/bench/bare")
    assert answer.status_code == 200 and answer.is_json


def test_minimal_call_is_metered_with_the_products_statement(migrated_urls, monkeypatch):
    require_postgres()
    require_redis()
    url = migrated_urls("postgresql")
    app = make_app(url)
    with app.app_context():
        user = create_user("bench@example.com", PASSWORD)
        key, secret = create_key(user, "bench")
        user_id, key_id = user.id, key.id
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", REDIS_SERVER)
    sys.modules.pop("bench.minimal", None)
    minimal = importlib.import_module("bench.minimal")
    try:
        answer = minimal.app.test_client().post(
            "/bench/echo", json={"message": "hi"}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["output"] == {"message": "hi"}
        with app.app_context():
            log = db.session.scalars(sa.select(ToolLog).where(ToolLog.user_id == user_id)).one()
            assert (log.tool_name, log.status, log.http_status) == ("echo", "success", 200)
            summary = db.session.scalars(
                sa.select(UsageSummary).where(UsageSummary.user_id == user_id)
            ).one()
            assert summary.total_calls == 1
    finally:
        if getattr(minimal.local, "connection", None) is not None:
            minimal.local.connection.close()
        minimal.LIMITER.delete(f"minimal:{key_id}")  # this test's counter only
        with app.app_context():
            empty_tables()
