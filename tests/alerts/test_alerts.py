"""Alerts raised for real: API calls crossing quota thresholds (exactly once under concurrency),
error rates, expiring keys and new IPs, delivered by the queue to a real SMTP server and a real
webhook receiver."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from dashboard.alerts import service
from dashboard.alerts.quota import _queued, threshold_reached
from dashboard.alerts.tasks import quota_threshold_reached
from dashboard.extensions import db
from dashboard.jobs import jobs
from dashboard.keys.service import create_key
from dashboard.models import AlertEvent, Tool, UsageSummary, WebhookDelivery, utcnow
from dashboard.tools.sync import sync_tools
from dashboard.webhooks import service as webhooks
from tests.alerts.conftest import wait_for

ALL_EVENTS = ["quota.threshold_reached", "error_rate.high", "key.expiring", "key.new_ip"]


def turn_on(user, **settings):
    values = {
        "by_email": True,
        "quota": True,
        "error_rate": True,
        "error_rate_percent": 10,
        "error_rate_min_calls": 5,
        "key_expiry": True,
    }
    service.save_settings(user.id, settings.pop("watched", set()), **{**values, **settings})


def alerts_of(user, event_type=None):
    query = sa.select(AlertEvent).where(AlertEvent.user_id == user.id)
    if event_type:
        query = query.where(AlertEvent.event_type == event_type)
    return list(db.session.scalars(query))


def delivered(count):
    def check():
        query = sa.select(WebhookDelivery).where(WebhookDelivery.status == "succeeded")
        found = list(db.session.scalars(query))
        return found if len(found) >= count else None

    return check


def test_thresholds():
    assert threshold_reached(499, 1000) is None
    assert threshold_reached(500, 1000) == 50
    assert threshold_reached(799, 1000) == 50
    assert threshold_reached(800, 1000) == 80
    assert threshold_reached(1000, 1000) == 100
    assert threshold_reached(2, 3) == 50  # 50% of 3 calls is 1.5: reached at the 2nd call


@pytest.fixture
def echo(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def set_month_calls(user, calls):
    month = utcnow().strftime("%Y-%m")
    db.session.add(UsageSummary(user_id=user.id, month_year=month, total_calls=calls))
    db.session.commit()


def test_many_workers_crossing_80_percent_raise_one_alert(
    app, user, echo, worker, receiver, mailbox
):
    """Six calls cross 80% of the Pro plan's 100,000 at once (from threads with their own
    connections; Pro allows 16 calls in flight), and twelve more jobs claim the same threshold as
    if queued by other processes whose memos know nothing: one alert, one email, one webhook."""
    user.subscription_plan = "pro"
    turn_on(user)
    _, secret = webhooks.create_endpoint(user.id, receiver.url, "", ALL_EVENTS)
    _, key_secret = create_key(user, "load")
    set_month_calls(user, 79_997)
    month = utcnow().strftime("%Y-%m")
    # 50% was raised earlier this month (before this process started).
    db.session.add(
        AlertEvent(
            user_id=user.id,
            event_type="quota.threshold_reached",
            dedupe_key=f"quota:{month}:50",
            payload={},
        )
    )
    db.session.commit()
    _queued.clear()
    start = threading.Barrier(6)
    statuses = []

    def call():
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/v1/tools/echo",
            json={"message": "hi"},
            headers={"Authorization": f"Bearer {key_secret}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    for _ in range(12):
        jobs.enqueue(quota_threshold_reached, str(user.id), month, 80, 80_005, "pro")

    wait_for(lambda: worker.count("quota_threshold_reached") >= 13, what="the quota jobs")
    wait_for(worker.idle, what="every job to run")

    raised = sorted(a.dedupe_key for a in alerts_of(user))
    assert raised == [f"quota:{month}:50", f"quota:{month}:80"]
    assert len(mailbox.messages) == 1
    assert "80% of this month's calls" in mailbox.texts()[0]
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "quota.threshold_reached"
    assert event["data"]["threshold"] == 80 and event["data"]["quota"] == 100_000


def test_quota_alerts_off_raise_nothing(app, user, worker):
    assert quota_threshold_reached(str(user.id), "2026-12", 50, 500, "free") is False
    assert alerts_of(user) == []


def test_each_threshold_once_a_month(app, user, worker, mailbox):
    turn_on(user, by_email=False)
    assert quota_threshold_reached(str(user.id), "2026-12", 50, 500, "free") is True
    assert quota_threshold_reached(str(user.id), "2026-12", 50, 501, "free") is False
    assert quota_threshold_reached(str(user.id), "2026-12", 100, 1000, "free") is True
    assert quota_threshold_reached(str(user.id), "2027-01", 50, 500, "free") is True
    assert len(alerts_of(user)) == 3
    assert {a.email_status for a in alerts_of(user)} == {"off"}
    assert mailbox.messages == []


def test_error_rate_alert(app, user, worker, mailbox):
    turn_on(user, error_rate_percent=30, error_rate_min_calls=5)
    key, _ = create_key(user, "k")
    now = utcnow()
    record = log_calls(user, key, now)
    record(4, "error")
    assert service.check_error_rates(now) == 0  # 4 calls: below the minimum of 5
    record(6, "success")
    assert service.check_error_rates(now) == 1  # 4 of 10 failed: 40% > 30%
    assert service.check_error_rates(now) == 0  # once an hour
    alert = alerts_of(user, "error_rate.high")[0]
    assert alert.payload["error_percent"] == 40.0 and alert.email_status == "sent"
    wait_for(lambda: mailbox.messages)
    assert "40.0% of your calls failed" in mailbox.messages[0].content.decode()


def test_error_rate_below_threshold_is_quiet(app, user, worker):
    turn_on(user, error_rate_percent=50, error_rate_min_calls=5)
    key, _ = create_key(user, "k")
    now = utcnow()
    record = log_calls(user, key, now)
    record(5, "error")
    record(5, "success")
    assert service.check_error_rates(now) == 0  # exactly 50% is not above 50%


def test_expiring_key_alert_once(app, user, make_user, worker, mailbox):
    turn_on(user)
    now = utcnow()
    soon, _ = create_key(user, "soon", expires_at=now + timedelta(days=3))
    create_key(user, "later", expires_at=now + timedelta(days=30))
    other = make_user()
    create_key(other, "theirs", expires_at=now + timedelta(days=3))  # alerts off there
    assert service.check_expiring_keys(now) == 1
    assert service.check_expiring_keys(now) == 0
    alert = alerts_of(user, "key.expiring")[0]
    assert alert.payload["key_id"] == str(soon.id) and alert.payload["key_name"] == "soon"
    assert alerts_of(other) == []


def test_new_ip_alert_for_watched_keys_only(app, user, worker, mailbox):
    watched, _ = create_key(user, "watched")
    unwatched, _ = create_key(user, "other")
    now = utcnow()
    log_calls(user, watched, now - timedelta(days=2), ip="198.51.100.1")(1, "success")
    turn_on(user, watched={watched.id})  # 198.51.100.1 is already known: no alert for it
    log_calls(user, watched, now, ip="198.51.100.1")(1, "success")
    log_calls(user, watched, now, ip="203.0.113.9")(2, "success")
    log_calls(user, unwatched, now, ip="203.0.113.77")(1, "success")
    assert service.check_new_ips(now) == 1
    assert service.check_new_ips(now) == 0
    alert = alerts_of(user, "key.new_ip")[0]
    assert alert.payload["ip"] == "203.0.113.9" and alert.payload["key_name"] == "watched"
    wait_for(lambda: mailbox.messages)
    assert "203.0.113.9" in mailbox.messages[0].content.decode()


def log_calls(user, key, at, ip="192.0.2.1"):
    from dashboard.api.metering import record_call

    def record(count, status):
        for _ in range(count):
            record_call(
                user_id=user.id,
                api_key_id=key.id,
                tool_name="echo",
                tool_version="v1",
                input_payload={},
                output_payload={},
                status=status,
                execution_time_ms=1,
                tokens_used=1,
                client_ip=ip,
                at=at,
            )

    return record


def test_without_an_smtp_server_email_goes_to_the_terminal_and_instance(
    app, user, tmp_path, capsys
):
    app.config["MAIL_SERVER"] = ""
    app.config["MAIL_OUTBOX_FILE"] = "outbox.txt"
    app.instance_path = str(tmp_path)
    turn_on(user)
    assert quota_threshold_reached(str(user.id), "2026-12", 100, 1000, "free") is True
    outbox = (tmp_path / "outbox.txt").read_text()
    assert f"To: {user.email}" in outbox and "100% of this month's calls" in outbox
    assert "quota_exceeded" in capsys.readouterr().err
    assert alerts_of(user)[0].email_status == "sent"
