"""Every outcome in the logs: HTTP status, every schema error, refused calls per minute."""

import csv
import io
import re
import threading

import pytest
import sqlalchemy as sa

from dashboard.api.metering import kept_errors, record_rejection
from dashboard.extensions import db
from dashboard.models import ApiKey, RejectedCalls, ToolLog, UsageDaily, utcnow
from tests.conftest import AuthActions

THREE_ERRORS = {"max_keywords": 0, "language": "EN"}


def logged(code=None):
    stmt = sa.select(ToolLog).order_by(ToolLog.created_at)
    if code:
        stmt = stmt.where(ToolLog.error_code == code)
    return list(db.session.scalars(stmt))


def test_each_logged_call_keeps_its_http_status(api, secret):
    answers = [
        api.call("echo", {"message": "hi"}, key=secret),
        api.call("echo", data=b"{nope", key=secret, content_type="application/json"),
        api.call("keywords", THREE_ERRORS, key=secret),
        api.call("explode", {}, key=secret),
    ]
    assert [a.status_code for a in answers] == [200, 400, 422, 500]
    by_id = {str(log.id): log for log in logged()}
    ids = [a.get_json().get("request_id") or a.get_json()["error"]["request_id"] for a in answers]
    assert [by_id[i].http_status for i in ids] == [200, 400, 422, 500]


def test_every_schema_error_is_kept_and_shown(api, secret, client, user):
    answer = api.call("keywords", THREE_ERRORS, key=secret)
    assert len(answer.get_json()["error"]["errors"]) == 3
    (log,) = logged("invalid_input")
    assert log.errors == answer.get_json()["error"]["errors"]
    AuthActions(client).login(user)
    page = client.get(f"/logs/{log.id}").get_data(as_text=True)
    assert "Schema errors (3)" in page
    for error in log.errors:
        assert error["message"].replace("'", "&#39;") in page


def test_schema_errors_are_kept_within_the_cap():
    errors = [{"path": f"/{n}", "message": "x" * 100} for n in range(100)]
    kept = kept_errors(errors, 2000)
    assert len(kept) < 100
    assert kept[:-1] == errors[: len(kept) - 1]
    assert kept[-1]["message"] == f"{100 - len(kept) + 1} more errors were not kept"
    assert kept_errors(errors[:3], 2000) == errors[:3]
    assert kept_errors([], 2000) is None


def test_refused_calls_are_one_row_per_key_reason_and_minute(api, make_key, user):
    secret = make_key(rate_limit_per_minute=2)
    answers = [api.call("echo", {"message": "hi"}, key=secret) for _ in range(7)]
    assert [a.status_code for a in answers].count(429) == 5
    rows = db.session.scalars(sa.select(RejectedCalls)).all()
    assert sum(row.count for row in rows) == 5
    assert len(rows) <= 2  # the flood may straddle a minute, never more
    assert {(row.reason, row.tool_name, row.user_id) for row in rows} == {
        ("rate_limit", "echo", user.id)
    }
    assert all(row.minute.second == 0 and row.minute.microsecond == 0 for row in rows)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_concurrent_flood_of_refusals_is_counted_exactly(app, make_key, user):
    """8 threads x 50 refusals in one minute: one row per reason, counts exact."""
    make_key()
    key_id = db.session.scalar(sa.select(ApiKey.id))
    minute = utcnow().replace(second=0, microsecond=0)

    def worker(reason: str) -> None:
        with app.app_context():
            for n in range(50):
                record_rejection(
                    user_id=user.id,
                    api_key_id=key_id,
                    tool_name="echo",
                    reason=reason,
                    at=minute.replace(second=n % 60),
                )
            db.session.remove()

    reasons = ["rate_limit"] * 5 + ["quota"] * 2 + ["concurrency"]
    threads = [threading.Thread(target=worker, args=(reason,)) for reason in reasons]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    rows = db.session.execute(
        sa.select(RejectedCalls.reason, RejectedCalls.count, RejectedCalls.minute)
    ).all()
    assert sorted((r.reason, r.count) for r in rows) == [
        ("concurrency", 50),
        ("quota", 100),
        ("rate_limit", 250),
    ]
    assert {r.minute for r in rows} == {minute}
    daily = db.session.execute(
        sa.select(UsageDaily.rejected_rate_limit, UsageDaily.rejected_quota)
    ).one()
    assert tuple(daily) == (250 + 50, 100)  # concurrency refusals count with the rate limit


def test_refused_calls_show_in_the_logs_filtered_and_exported(make_key, client, user):
    # Recorded directly: in tests one app context serves every request, and the API's
    # borrowed autocommit connection would then be reused by the export's server-side cursor.
    make_key()
    key_id = db.session.scalar(sa.select(ApiKey.id))
    for _ in range(3):
        record_rejection(user_id=user.id, api_key_id=key_id, tool_name="echo", reason="rate_limit")
    AuthActions(client).login(user)

    listing = client.get("/logs/").get_data(as_text=True)
    assert 'data-testid="rejected-hint"' in listing
    assert "3 calls under these filters were refused" in listing

    page = client.get("/logs/?status=rejected")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    counts = [int(c) for c in re.findall(r'data-rejected-count="(\d+)"', body)]
    assert sum(counts) == 3 and "rate_limited" in body

    fragment = client.get("/logs/?status=rejected", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert 'data-testid="rejected-table"' in fragment.get_data(as_text=True)

    assert "No refused calls" in client.get("/logs/?status=rejected&code=quota_exceeded").text
    assert "No refused calls" in client.get("/logs/?status=rejected&tool=keywords").text
    assert 'data-rejected-count="' in client.get("/logs/?status=rejected&http=429").text

    table = list(csv.reader(io.StringIO(client.get("/logs/export.csv?status=rejected").text)))
    header, rows = table[0], table[1:]
    assert sum(int(row[header.index("calls")]) for row in rows) == 3
    assert {row[header.index("error_code")] for row in rows} == {"rate_limited"}
    assert {row[header.index("http_status")] for row in rows} == {"429"}


def test_logs_filter_by_http_status_and_error_code(api, secret, client, user):
    api.call("echo", {"message": "hi"}, key=secret)
    api.call("keywords", THREE_ERRORS, key=secret)
    api.call("explode", {}, key=secret)
    AuthActions(client).login(user)

    def shown(query):
        return len(re.findall(r'data-log-id="', client.get(f"/logs/?{query}").text))

    assert shown("") == 3
    assert shown("http=422") == 1
    assert shown("http=200") == 1
    assert shown("code=tool_error") == 1
    assert shown("code=tool_error&http=422") == 0
    assert "HTTP status must be a number" in client.get("/logs/?http=abc").text
    statuses = re.findall(r'data-testid="http-status"[^>]*>(\d+)<', client.get("/logs/").text)
    assert sorted(statuses) == ["200", "422", "500"]


def test_a_caller_that_gives_no_status_gets_the_codes_status(app, make_key, user):
    from dashboard.api.metering import record_call

    make_key()
    key_id = db.session.scalar(sa.select(ApiKey.id))
    fields = dict(
        user_id=user.id,
        api_key_id=key_id,
        tool_name="echo",
        tool_version="v1",
        input_payload={},
        output_payload=None,
        execution_time_ms=1,
        tokens_used=1,
    )
    codes = {
        "invalid_input": 422,
        "tool_error": 500,
        "tool_timeout": 504,
        "mystery": 500,
        None: 200,
    }
    for code, expected in codes.items():
        status = "success" if code is None else "error"
        log_id = record_call(**fields, status=status, error_code=code, error_message=code)
        assert db.session.get(ToolLog, log_id).http_status == expected, code
