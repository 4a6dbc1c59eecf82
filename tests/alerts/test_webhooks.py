"""Webhooks delivered by the real queue to a real receiver, verified with the standardwebhooks
library; retries, disabling, and every way a delivery can fail ending with a clear reason."""

import ipaddress
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from dashboard.extensions import db
from dashboard.models import WebhookDelivery, WebhookEndpoint, utcnow
from dashboard.webhooks import service, tasks
from dashboard.webhooks.delivery import (
    Undeliverable,
    attempt,
    embedded_ipv4,
    refused_address,
    resolve,
)
from dashboard.webhooks.tasks import retry_stuck_deliveries
from tests.alerts.conftest import wait_for


def finished(delivery_id):
    def check():
        delivery = db.session.get(WebhookDelivery, delivery_id)
        return delivery if delivery.status in ("succeeded", "failed") else None

    return check


def test_test_event_arrives_signed_and_verifies(app, user, worker, receiver):
    endpoint, secret = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    delivery = tasks.send_test(endpoint)
    done = wait_for(finished(delivery.id), what="the test delivery")

    assert done.status == "succeeded" and done.attempts == 1 and done.response_status == 200
    assert done.latency_ms is not None and '"received"' in done.response_excerpt
    headers, body = receiver.received[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["endpoint_id"] == str(endpoint.id)
    assert headers["webhook-id"] == delivery.message_id
    with pytest.raises(WebhookVerificationError):
        Webhook(service.new_secret()).verify(body, headers)


def test_rotation_signs_with_both_secrets_during_the_overlap(app, user, worker, receiver):
    endpoint, old_secret = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    new_secret = service.rotate_secret(endpoint)
    delivery = tasks.send_test(endpoint)
    wait_for(finished(delivery.id), what="the delivery")

    headers, body = receiver.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(body, headers)
    Webhook(new_secret).verify(body, headers)

    endpoint.previous_secret_until = utcnow()  # the overlap is over
    db.session.commit()
    assert service.signing_secrets(endpoint) == [new_secret]


def test_resend_keeps_the_message_id(app, user, worker, receiver):
    endpoint, secret = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    first = tasks.send_test(endpoint)
    wait_for(finished(first.id))
    again = tasks.resend(db.session.get(WebhookDelivery, first.id))
    wait_for(finished(again.id))

    assert [h["webhook-id"] for h, _ in receiver.received] == [first.message_id] * 2
    for headers, body in receiver.received:
        Webhook(secret).verify(body, headers)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("fail", "HTTP 500"), ("hang", "timed out"), ("redirect", "not followed")],
)
def test_a_failing_endpoint_is_retried_then_disabled_with_an_email(
    app, user, worker, receiver, mailbox, mode, reason
):
    receiver.mode = mode
    endpoint, _ = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    delivery = tasks.send_test(endpoint)
    done = wait_for(finished(delivery.id), timeout=30, what="retries to end")

    assert done.attempts == 3  # WEBHOOK_DISABLE_AFTER_FAILURES in the test config
    assert done.status == "failed" and reason in done.error
    if mode == "fail":
        assert done.response_status == 500 and done.response_excerpt == "upstream exploded"
    assert len(receiver.received) == 3  # one request an attempt; the redirect never followed
    db.session.refresh(endpoint)
    assert not endpoint.is_enabled and reason in endpoint.disabled_reason
    wait_for(lambda: mailbox.messages, what="the disabled email")
    assert mailbox.messages[0].rcpt_tos == [user.email]
    assert "was disabled" in mailbox.texts()[0] and receiver.url in mailbox.texts()[0]


@pytest.mark.parametrize("app_overrides", [{"WEBHOOK_RETRY_FOR_SECONDS": 0}], indirect=False)
def test_retries_stop_after_the_retry_window(app, user, worker, receiver):
    receiver.mode = "fail"
    endpoint, _ = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    done = wait_for(finished(tasks.send_test(endpoint).id))
    assert done.attempts == 1 and done.status == "failed"
    db.session.refresh(endpoint)
    assert endpoint.is_enabled


def test_success_resets_the_failure_count(app, user, worker, receiver):
    receiver.mode = "fail"
    endpoint, _ = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    endpoint.consecutive_failures = 2
    db.session.commit()
    receiver.mode = "ok"
    wait_for(finished(tasks.send_test(endpoint).id))
    db.session.refresh(endpoint)
    assert endpoint.consecutive_failures == 0 and endpoint.is_enabled


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("hang", "timed out"),
        (
            "redirect",
            "Redirect (HTTP 302 to http://169.254.169.254/latest/meta-data/) not followed",
        ),
        ("huge", "byte cap"),
        ("fail", "HTTP 500"),
    ],
)
def test_each_bad_answer_ends_as_a_failure_with_its_reason(app, receiver, mode, reason):
    receiver.mode = mode
    outcome = attempt(receiver.url, "msg_1", {"type": "t"}, [service.new_secret()], utcnow())
    assert not outcome.ok and reason in outcome.error
    assert not outcome.permanent
    assert outcome.latency_ms < 4000  # the 2 s timeout holds, even for a trickle
    assert len(receiver.received) == 1  # the redirect was not followed


def test_tls_errors_unreachable_and_bad_urls_are_clear_failures(app, receiver):
    secrets = [service.new_secret()]
    tls = attempt(receiver.url.replace("http:", "https:"), "m", {}, secrets, utcnow())
    assert not tls.ok and tls.error.startswith("TLS error")
    closed = f"http://127.0.0.1:{free_closed_port()}/"
    refused = attempt(closed, "m", {}, secrets, utcnow())
    assert not refused.ok and refused.error.startswith("Could not connect")
    for url, words in [
        ("ftp://example.com/x", "must start with https://"),
        ("http://exa mple.com/", "not a valid host name"),
        ("http://[zz]/", "not a valid URL"),
        ("https://user:pw@example.com/", "no user name or password"),
    ]:
        outcome = attempt(url, "m", {}, secrets, utcnow())
        assert not outcome.ok and outcome.permanent and words in outcome.error
    dns = attempt("https://no-such-host.invalid/hook", "m", {}, secrets, utcnow())
    assert not dns.ok and "DNS lookup" in dns.error and not dns.permanent


@pytest.mark.parametrize("app_overrides", [{"WEBHOOK_ALLOW_PRIVATE": False}], indirect=False)
def test_private_destinations_are_refused_in_production(app, receiver):
    secrets = [service.new_secret()]
    for url in (receiver.url, "http://localhost/hook", "http://169.254.169.254/", "http://[::1]/"):
        outcome = attempt(url, "m", {}, secrets, utcnow())
        assert not outcome.ok and outcome.permanent, url
        assert "private, loopback or link-local" in outcome.error
    assert receiver.received == []


def free_closed_port() -> int:
    from tests.alerts.conftest import free_port

    return free_port()


def test_a_disabled_endpoint_gets_no_events(app, user, worker, receiver):
    endpoint, _ = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    service.set_enabled(endpoint, False)
    assert tasks.fan_out(user.id, "key.expiring", {"key_id": "x"}) == 0
    service.set_enabled(endpoint, True)
    assert tasks.fan_out(user.id, "key.expiring", {"key_id": "x"}) == 1
    assert tasks.fan_out(user.id, "key.new_ip", {"key_id": "x"}) == 0  # not subscribed
    count = sa.select(sa.func.count()).select_from(WebhookDelivery)
    assert db.session.scalar(count) == 1
    assert db.session.get(WebhookEndpoint, endpoint.id).is_enabled


def test_a_delivery_left_half_sent_by_a_dead_worker_is_sent_again(app, user, worker, receiver):
    endpoint, secret = service.create_endpoint(user.id, receiver.url, "", ["key.expiring"])
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        user_id=user.id,
        message_id="msg_stuck",
        event_type="key.expiring",
        payload={"type": "key.expiring", "data": {}},
        status="sending",
        attempts=0,
        last_attempt_at=utcnow() - timedelta(minutes=6),
    )
    db.session.add(delivery)
    db.session.commit()
    assert retry_stuck_deliveries() == 1
    done = wait_for(finished(delivery.id))
    assert done.status == "succeeded"
    Webhook(secret).verify(receiver.received[0][1], receiver.received[0][0])
    assert retry_stuck_deliveries() == 0


REFUSED_IPV6_FORMS = [
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",  # IPv4-mapped metadata address
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64, whatever it embeds
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo
    "::10.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible, even of a public address
]


@pytest.mark.parametrize("form", REFUSED_IPV6_FORMS)
@pytest.mark.parametrize("app_overrides", [{"WEBHOOK_ALLOW_PRIVATE": False}], indirect=False)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(app, form):
    url = f"http://[{form}]/hook"
    outcome = attempt(url, "m", {}, [service.new_secret()], utcnow())
    assert not outcome.ok and outcome.permanent and "private" in outcome.error
    with pytest.raises(Undeliverable) as refusal:  # the same when DNS answers with it
        resolve(httpx.URL(url))
    assert refusal.value.permanent


@pytest.mark.parametrize("public", ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_ipv6_forms_of_public_ipv4_addresses_are_judged_by_that_address(public):
    assert embedded_ipv4(ipaddress.ip_address(public)) == ipaddress.ip_address("8.8.8.8")
    assert not refused_address(ipaddress.ip_address(public))
    assert not refused_address(ipaddress.ip_address("2606:4700:4700::1111"))
