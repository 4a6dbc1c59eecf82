"""The tightened API path: one-statement metering, the month-count cache, one-trip limits."""

import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dashboard.api import metering
from dashboard.api.connection import give_back_kept_connection, kept_connections, postgresql_sql
from dashboard.api.credentials import KEY_LOOKUP, find_key
from dashboard.api.metering import MeteredCall
from dashboard.api.throttle import calls_this_month, key_limiter, month_counts
from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.secrets import hash_secret
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, Tool, ToolLog, UsageDaily, UsageSummary, User, utcnow
from dashboard.tools.sync import sync_tools
from tests.api.test_limits import REDIS_URL, TINY_PLANS, require_redis
from tests.conftest import PASSWORD, make_app, require_postgres
from tests.reliability.tcp_proxy import TcpProxy

AT = datetime(2026, 3, 14, 9, 26, 53, 589000)
LOG_COLUMNS = [c for c in ToolLog.__table__.columns if c.name != "id"]
DAILY_COLUMNS = list(UsageDaily.__table__.columns)


def key_id_of(user) -> uuid.UUID:
    return db.session.scalar(sa.select(ApiKey.id).where(ApiKey.user_id == user.id))


def call_fields(user, **changes) -> dict:
    fields = dict(
        user_id=user.id,
        api_key_id=key_id_of(user),
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "héllo", "nested": {"n": [1, 2.5, None]}},
        output_payload=None,
        status="error",
        execution_time_ms=37,
        tokens_used=11,
        error_message="The input does not match",
        error_code="invalid_input",
        client_ip="203.0.113.9",
        at=AT,
    )
    return {**fields, **changes}


def rows(user):
    """Everything metering wrote for `user`: log rows, month counters, daily rollups, last use."""
    logs = db.session.execute(
        sa.select(*LOG_COLUMNS).where(ToolLog.user_id == user.id).order_by(ToolLog.status)
    ).all()
    months = db.session.execute(
        sa.select(UsageSummary.month_year, UsageSummary.total_calls, UsageSummary.total_tokens)
        .where(UsageSummary.user_id == user.id)
        .order_by(UsageSummary.month_year)
    ).all()
    daily = db.session.execute(
        sa.select(*DAILY_COLUMNS).where(UsageDaily.user_id == user.id).order_by(UsageDaily.day)
    ).all()
    last_used = db.session.scalar(
        sa.select(ApiKey.last_request_at).where(ApiKey.user_id == user.id)
    )
    return logs, months, daily, last_used


def owned(row) -> tuple:
    """A row's values without its owner's ids (which differ between the two users)."""
    return tuple(v for k, v in row._mapping.items() if k not in ("user_id", "api_key_id"))


def sql_nulls(user) -> tuple:
    """How many output payloads are SQL NULL (not JSON null) for `user`."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ToolLog)
        .where(ToolLog.user_id == user.id, ToolLog.output_payload.is_(sa.null()))
    )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_one_statement_writes_what_the_statement_by_statement_path_writes(app, make_key, make_user):
    """On PostgreSQL both paths run; every column they write is the same, NULL payloads too."""
    single, stepwise = make_user(), make_user()
    make_key(single)
    make_key(stepwise)
    for owner, write in (
        (single, metering.record_call_in_one_statement),
        (stepwise, metering.record_call_statement_by_statement),
    ):
        first = write(MeteredCall(**call_fields(owner)))
        success = call_fields(owner, status="success", execution_time_ms=3, tokens_used=5)
        second = write(MeteredCall(**success))
        assert (first.month_calls, second.month_calls) == (1, 2)
        assert db.session.get(ToolLog, second.log_id) is not None

    single_rows, stepwise_rows = rows(single), rows(stepwise)
    logs, months, daily, last_used = single_rows
    assert len(logs) == 2
    assert logs[0].output_payload is None and logs[0].input_payload["nested"]["n"][2] is None
    assert months == [("2026-03", 2, 16)]
    assert (daily[0].calls, daily[0].errors, daily[0].tokens) == (2, 1, 16)
    assert (daily[0].latency_le_50, daily[0].latency_le_5, daily[0].execution_ms_total) == (
        1,
        1,
        40,
    )
    assert last_used == AT

    def without_owner(found):
        logs, months, daily, last_used = found
        return [owned(r) for r in logs], months, [owned(r) for r in daily], last_used

    assert without_owner(single_rows) == without_owner(stepwise_rows)
    assert sql_nulls(single) == sql_nulls(stepwise)


def test_record_call_keeps_its_signature_and_answers_the_log_id(app, make_key, user):
    make_key()
    fields = call_fields(user)
    log_id = metering.record_call(**fields)
    assert isinstance(log_id, uuid.UUID)
    assert db.session.get(ToolLog, log_id).error_code == "invalid_input"
    assert db.session.scalar(sa.select(UsageSummary.total_calls)) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
def test_one_statement_inside_an_open_transaction_commits_it(app, make_key, user):
    """A caller that already read something (a key-cache miss) gets the same single statement,
    committed with its transaction."""
    make_key()
    db.session.execute(sa.select(ApiKey.id)).all()
    assert db.session().in_transaction()
    recorded = metering.record(MeteredCall(**call_fields(user)))
    assert not db.session().in_transaction()
    db.session.rollback()  # nothing left to roll back: the write stays
    assert db.session.get(ToolLog, recorded.log_id) is not None


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("app_overrides", [{"METERING_SYNCHRONOUS_COMMIT": False}])
def test_relaxed_commit_is_local_to_the_metering_statement(app, make_key, user):
    make_key()
    metering.record(MeteredCall(**call_fields(user)))
    with db.engine.connect() as connection:  # the pool's connections keep the default
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    assert db.session.scalar(sa.text("SHOW synchronous_commit")) == "on"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog)) == 1


def test_last_request_at_moves_at_most_every_resolution(app, make_key, user):
    make_key()
    later = AT + metering.LAST_USED_RESOLUTION / 2
    much_later = AT + metering.LAST_USED_RESOLUTION * 2
    for at in (AT, later):
        metering.record(MeteredCall(**call_fields(user, at=at)))
    assert rows(user)[3] == AT
    metering.record(MeteredCall(**call_fields(user, at=much_later)))
    assert rows(user)[3] == much_later


@pytest.mark.parametrize("backend", ["postgresql"])
def test_prebuilt_key_lookup_as_sent_is_an_index_seek(app, user):
    db.session.execute(
        sa.insert(ApiKey),
        [
            {"user_id": user.id, "key": hash_secret(f"secret {n}"), "prefix": "tk_", "name": ""}
            for n in range(500)
        ],
    )
    db.session.commit()
    db.session.execute(sa.text("ANALYZE api_keys"))
    plan = db.session.connection().exec_driver_sql(
        "EXPLAIN " + postgresql_sql(KEY_LOOKUP), {"key_hash": hash_secret("secret 250")}
    )
    assert "Index Scan using api_keys_key_key on api_keys" in "\n".join(plan.scalars())


@pytest.mark.parametrize("backend", ["postgresql"])
def test_hot_path_borrows_one_connection_per_context_and_gives_it_back(api_app, make_key, user):
    secret = make_key()
    fields = call_fields(user)
    db.session.commit()
    with api_app.app_context():
        pool = db.engine.pool
    checked_out = pool.checkedout()
    with api_app.app_context():
        assert find_key(secret).user_id == fields["user_id"]
        assert calls_this_month(fields["user_id"], "2026-03") == 0
        metering.record(MeteredCall(**fields))
        assert pool.checkedout() == checked_out + 1  # one borrowed connection for all three
        assert not db.session.registry.has()  # no ORM session was made on the hot path
    assert pool.checkedout() == checked_out
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog)) == 1


@pytest.mark.parametrize("app_overrides", [{"API_KEY_CACHE_SECONDS": 60}])
def test_month_count_comes_back_from_metering_and_is_remembered(api_app, api, secret, user):
    month = utcnow().strftime("%Y-%m")
    assert api.call("echo", {"message": "a"}, key=secret).status_code == 200
    with api_app.app_context():
        assert month_counts().get((user.id, month)) == 1
    # The count is taken from the cache: a row changed behind the gateway's back is not read
    # again until the cache entry expires or a metered call brings back the true count.
    db.session.execute(sa.update(UsageSummary).values(total_calls=500))
    db.session.commit()
    with api_app.app_context():
        assert calls_this_month(user.id, month) == 1
    assert api.call("echo", {"message": "b"}, key=secret).status_code == 200
    with api_app.app_context():
        assert month_counts().get((user.id, month)) == 501


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS, "API_KEY_CACHE_SECONDS": 60}])
def test_cached_month_count_still_stops_at_the_quota(api, secret):
    answers = [api.call("echo", {"message": "hi"}, key=secret).status_code for _ in range(4)]
    assert answers == [200, 200, 429, 429]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"RATELIMIT_STORAGE_URI": REDIS_URL}])
def test_redis_limits_are_one_round_trip(api_app, api, make_key):
    """Key limit, account limit, both invalidation marks and the account's slot for calls in
    flight: one EVALSHA per call; the slot is given back by a ZREM that Redis does not answer,
    and the connection is left with no reply pending (the reads after it get their own)."""
    require_redis()
    secret = make_key(rate_limit_per_minute=5)
    with api_app.app_context():
        limiter = key_limiter()
    api.call("echo", {"message": "a"}, key=secret)  # the first call loads the script
    client = limiter.limits.thread_client()  # this thread's connection: the test client's too
    sent = []
    original = client.execute_command

    def counting(*args, **options):
        sent.append(args[0])
        return original(*args, **options)

    client.execute_command = counting
    try:
        answer = api.call("echo", {"message": "a"}, key=secret)
    finally:
        client.execute_command = original
    assert answer.headers["X-RateLimit-Remaining"] == "3"
    assert sent == ["EVALSHA"]
    with api_app.app_context():
        key = find_key(secret)
    log = f"{limiter.prefix}:log:key:{key.id}"
    assert client.zcard(log) == 2
    assert 59_000 < client.pttl(log) <= 60_000
    assert client.zcard(limiter.limits.slots_name(key.user_id)) == 0  # given back
    client.delete(log, f"{limiter.prefix}:log:account:{key.user_id}")


def test_api_answers_keep_the_security_headers(api, secret):
    answers = [api.call("echo", {"message": "a"}, key=secret) for _ in range(2)]
    answers.append(api.get("/api/v1/tools"))
    names = (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
    )
    first = {name: answers[0].headers.get(name) for name in names}
    assert first["X-Content-Type-Options"] == "nosniff"
    assert first["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in first["Content-Security-Policy"]
    for answer in answers[1:]:  # built once, copied onto the next answers
        assert {name: answer.headers.get(name) for name in names} == first


def test_pages_get_talisman_and_flask_limiter_and_the_api_app_gets_neither(client, app, api_app):
    page = client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "limiter" in app.extensions and "limiter" not in api_app.extensions
    assert "csrf" in app.extensions and "csrf" not in api_app.extensions
    assert not hasattr(api_app, "login_manager")
    assert api_app.session_interface.open_session(api_app, None) is None


@pytest.fixture
def proxied_api(migrated_urls):
    """An app that keeps hot-path connections, whose PostgreSQL goes through a cuttable proxy."""
    require_postgres()
    url = make_url(migrated_urls("postgresql"))
    proxy = TcpProxy(url.host, url.port or 5432).start()
    app = make_app(
        url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        API_CONNECTION_KEEP_SECONDS=60,
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "pool_size": 2,
            "pool_timeout": 3,
            "connect_args": {"connect_timeout": 2, "options": "-c statement_timeout=5000"},
        },
    )
    with app.app_context():
        sync_tools(db.session, Tool)
        user = create_user("outage@example.com", PASSWORD)
        _, secret = create_key(user, "outage")
        db.session.commit()
    yield app, proxy, secret
    proxy.cut()
    proxy.start()
    with app.extensions["api_app"].app_context():
        give_back_kept_connection()
        db.engine.dispose()
    with app.app_context():
        db.session.execute(sa.delete(User).where(User.email == "outage@example.com"))
        db.session.commit()
        db.engine.dispose()
    proxy.cut()


@pytest.mark.parametrize("backend", ["postgresql"])  # the autouse fixtures' app; unused here
def test_api_keeps_its_connection_answers_503_when_the_database_goes_and_recovers(proxied_api):
    app, proxy, secret = proxied_api
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    def call():
        return client.post("/api/v1/tools/echo", json={"message": "hi"}, headers=headers)

    assert [call().status_code for _ in range(2)] == [200, 200]
    with app.extensions["api_app"].app_context():
        kept = kept_connections().borrowed
    assert kept is not None  # kept between requests: the next call needs no checkout or ping

    proxy.cut()
    down = call()
    assert (down.status_code, down.get_json()["error"]["code"]) == (503, "database_unavailable")

    proxy.start()
    assert call().status_code == 200  # the broken connection was discarded, no restart
    with app.extensions["api_app"].app_context():
        assert kept_connections().borrowed is not kept
