"""Metering under concurrency, the key lookup's index, and relaxed commit durability."""

import dataclasses
import threading

import pytest
import sqlalchemy as sa

from dashboard.api import metering
from dashboard.api.credentials import key_lookup_query
from dashboard.api.metering import MeteredCall, record_call
from dashboard.extensions import db
from dashboard.keys.secrets import hash_secret
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary, utcnow


@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_calls_are_all_counted(app, make_key, user):
    """8 threads x 25 calls: log rows, the month's counter and the daily rollup all say 200."""
    user.subscription_plan = "pro"  # 1,000 calls a minute for the account (Free: 100)
    db.session.commit()
    secret = make_key(rate_limit_per_minute=1000)
    failures = []

    def worker() -> None:
        with app.app_context():
            client = app.test_client()
            for n in range(25):
                response = client.post(
                    "/api/v1/tools/echo",
                    json={"message": f"call {n}"},
                    headers={"Authorization": f"Bearer {secret}"},
                )
                if response.status_code != 200:
                    failures.append(response.get_json())
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    logs = db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog))
    month = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(UsageSummary.user_id == user.id)
    )
    daily = db.session.scalar(sa.select(sa.func.sum(UsageDaily.calls)))
    assert (logs, month, daily) == (200, 200, 200)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_key_lookup_is_an_index_scan_on_the_key(app, user):
    db.session.execute(
        sa.insert(ApiKey),
        [
            {"user_id": user.id, "key": hash_secret(f"secret {n}"), "prefix": "tk_", "name": ""}
            for n in range(500)
        ],
    )
    db.session.commit()
    db.session.execute(sa.text("ANALYZE api_keys"))
    db.session.execute(sa.text("ANALYZE users"))
    query = key_lookup_query(hash_secret("secret 250"))
    sql = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.execute(sa.text(f"EXPLAIN {sql}")).scalars())
    assert "Index Scan using api_keys_key_key on api_keys" in plan, plan


@pytest.mark.parametrize("app_overrides", [{"METERING_SYNCHRONOUS_COMMIT": False}])
def test_metering_without_synchronous_commit_still_writes_everything(app, make_key, user):
    make_key()
    key_id = db.session.scalar(sa.select(ApiKey.id))
    log_id = record_call(
        user_id=user.id,
        api_key_id=key_id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "a"},
        output_payload={"echo": "a", "length": 1},
        status="success",
        execution_time_ms=3,
        tokens_used=7,
    )
    assert db.session.get(ToolLog, log_id).tokens_used == 7
    assert db.session.scalar(sa.select(UsageSummary.total_tokens)) == 7
    assert db.session.scalar(sa.select(ApiKey.last_request_at)) <= utcnow()
    if db.engine.dialect.name == "postgresql":  # the setting was transaction-local
        assert db.session.scalar(sa.text("SHOW synchronous_commit")) == "on"


def test_the_gateway_meters_a_call_as_one_value(api, secret, user, monkeypatch):
    """The hot path builds one frozen MeteredCall and hands it to metering as it is."""
    seen = []
    real_record = metering.record
    monkeypatch.setattr(metering, "record", lambda call: seen.append(call) or real_record(call))
    answered = api.call("echo", {"message": "hi"}, key=secret).get_json()
    refused = api.call("echo", {"message": 1}, key=secret).get_json()["error"]

    success, failure = seen
    assert isinstance(success, MeteredCall)
    assert (success.user_id, success.tool_name, success.status, success.http_status) == (
        user.id,
        "echo",
        "success",
        200,
    )
    assert str(success.log_id) == answered["request_id"]
    assert success.input_json == '{"message":"hi"}'  # encoded once, stored as it is
    assert (failure.error_code, failure.http_status, str(failure.log_id)) == (
        "invalid_input",
        422,
        refused["request_id"],
    )
    assert failure.errors == [{"path": "/message", "message": refused["errors"][0]["message"]}]
    with pytest.raises(dataclasses.FrozenInstanceError):
        success.status = "error"
    assert db.session.get(ToolLog, success.log_id).http_status == 200
