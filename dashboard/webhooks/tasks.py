"""The delivery queue: what is queued and when (each account's share of it), and the delivery
job: one attempt, then success, a retry with backoff and jitter, or failure.

Every alert raised is sent to the account's subscribed endpoints (`send_alert`, connected to
alerts' `alert_raised` signal). Deliveries wait as "deferred" while their account has
WEBHOOK_ACCOUNT_IN_FLIGHT of them on the queue or being sent, or while the queue is down.

Retries go on for WEBHOOK_RETRY_FOR_SECONDS after the delivery was made (a day by default);
an endpoint that fails WEBHOOK_DISABLE_AFTER_FAILURES attempts in a row is disabled and its
owner emailed. Counters move in single UPDATE statements, so concurrent deliveries to one
endpoint neither lose a failure nor send the "disabled" email twice.
"""

import logging
import random
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from huey import crontab

from dashboard.alerts.events import TEST_EVENT, alert_raised, event_body
from dashboard.alerts.service import endpoint_disabled
from dashboard.extensions import db
from dashboard.jobs import QueueUnavailable, jobs
from dashboard.models import WebhookDelivery, WebhookEndpoint, utcnow
from dashboard.webhooks.delivery import attempt
from dashboard.webhooks.service import endpoints_of, new_message_id, signing_secrets

logger = logging.getLogger(__name__)
ENDPOINTS = WebhookEndpoint.__table__
DELIVERIES = WebhookDelivery.__table__


def retry_delay(attempts: int, first: float, longest: float) -> float:
    """Seconds before the next attempt: doubling from `first`, at most `longest`, jittered to
    between half and all of that, so failed deliveries do not return in lockstep."""
    delay = min(longest, first * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


@jobs.task
def deliver_webhook(delivery_id: str):
    """Attempt one delivery, decide what comes next, then queue the account's next deferred
    delivery (its share of the queue is free again)."""
    if not claim(uuid.UUID(delivery_id)):
        return None  # already done, being attempted elsewhere, or deferred for its account
    delivery = db.session.get(WebhookDelivery, uuid.UUID(delivery_id))
    user_id = delivery.user_id
    try:
        return attempt_delivery(delivery)
    finally:
        db.session.rollback()
        queue_deferred_of(user_id)


def attempt_delivery(delivery: WebhookDelivery) -> bool:
    """One attempt of a claimed delivery: succeeded, retrying (scheduled) or failed."""
    delivery_id = str(delivery.id)
    endpoint = delivery.endpoint
    if not endpoint.is_enabled and delivery.event_type != TEST_EVENT:
        delivery.status = "failed"
        delivery.error = "The endpoint is disabled."
        delivery.next_attempt_at = None
        db.session.commit()
        return False
    now = utcnow()
    outcome = attempt(
        endpoint.url, delivery.message_id, delivery.payload, signing_secrets(endpoint, now), now
    )
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = outcome.status
    delivery.response_excerpt = outcome.excerpt
    delivery.latency_ms = outcome.latency_ms
    delivery.error = outcome.error
    delivery.next_attempt_at = None
    if outcome.ok:
        delivery.status = "succeeded"
        db.session.execute(
            sa.update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint.id).values(consecutive_failures=0)
        )
        db.session.commit()
        return True
    failures = count_failure(endpoint.id)
    disabled = failures >= current_app.config["WEBHOOK_DISABLE_AFTER_FAILURES"] and disable(
        endpoint.id, outcome.error
    )
    config = current_app.config
    delay = retry_delay(
        delivery.attempts,
        config["WEBHOOK_RETRY_SECONDS"],
        max(config["WEBHOOK_RETRY_SECONDS"], config["WEBHOOK_RETRY_FOR_SECONDS"] / 8),
    )
    next_at = now + timedelta(seconds=delay)
    give_up_at = delivery.created_at + timedelta(seconds=config["WEBHOOK_RETRY_FOR_SECONDS"])
    db.session.refresh(endpoint)
    if outcome.permanent or not endpoint.is_enabled or next_at > give_up_at:
        delivery.status = "failed"
        db.session.commit()
    else:
        delivery.status = "retrying"
        delivery.next_attempt_at = next_at
        db.session.commit()
        try:
            jobs.schedule(deliver_webhook, (delivery_id,), delay)
        except QueueUnavailable:  # kept: the minute's sweep queues it once the queue is back
            delivery.status = "deferred"
            db.session.commit()
    if disabled:
        endpoint_disabled(endpoint.user_id, endpoint.url, failures, outcome.error)
    return False


def claim(delivery_id: uuid.UUID) -> bool:
    """Mark a delivery as being sent; False when another run has it (a queue delivers a job
    at least once, so the same job may come twice). A pending delivery was admitted within
    its account's share when queued; a retry, coming back on its own time, is admitted now or
    deferred until one of its account's deliveries finishes."""
    statement = (
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == "pending")
        .values(status="sending", last_attempt_at=utcnow())
        .returning(DELIVERIES.c.user_id)
    )
    claimed = db.session.execute(statement).scalar_one_or_none()
    db.session.commit()
    if claimed is not None:
        return True
    user_id = db.session.scalar(
        sa.select(DELIVERIES.c.user_id).where(
            DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == "retrying"
        )
    )
    if user_id is None:
        return False
    if admit(delivery_id, user_id, ("retrying",), to="sending"):
        return True
    defer(delivery_id, "retrying")
    return False


def count_failure(endpoint_id: uuid.UUID) -> int:
    """One more failed attempt in a row for the endpoint; the new count."""
    statement = (
        sa.update(ENDPOINTS)
        .where(ENDPOINTS.c.id == endpoint_id)
        .values(consecutive_failures=ENDPOINTS.c.consecutive_failures + 1)
        .returning(ENDPOINTS.c.consecutive_failures)
    )
    return db.session.execute(statement).scalar_one()


def disable(endpoint_id: uuid.UUID, reason: str) -> bool:
    """Disable the endpoint for failing; True only for the one call that disabled it."""
    statement = (
        sa.update(ENDPOINTS)
        .where(ENDPOINTS.c.id == endpoint_id, ENDPOINTS.c.is_enabled.is_(True))
        .values(is_enabled=False, disabled_reason=f"Disabled after repeated failures: {reason}")
        .returning(ENDPOINTS.c.id)
    )
    return db.session.execute(statement).scalar_one_or_none() is not None


# A worker that dies mid-attempt leaves its delivery "sending"; after this long it is retried.
STUCK_AFTER = timedelta(minutes=5)


@jobs.periodic(lambda config: crontab(minute="*/5"))
def retry_stuck_deliveries(now=None) -> int:
    """Every 5 minutes: queue again the deliveries a dead worker left half-sent."""
    now = now or utcnow()
    statement = (
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.status == "sending", DELIVERIES.c.last_attempt_at < now - STUCK_AFTER)
        .values(status="retrying", error="The worker stopped during the attempt.")
        .returning(DELIVERIES.c.id)
    )
    stuck = list(db.session.execute(statement).scalars())
    db.session.commit()
    for delivery_id in stuck:
        jobs.enqueue(deliver_webhook, str(delivery_id))
    return len(stuck)


@jobs.periodic(lambda config: crontab(minute="*"))
def send_deferred_deliveries() -> int:
    """Every minute: queue deferred deliveries of every account with room in its share (those
    the queue could not take when it was down, and any a finished attempt did not pick up).
    How many were queued."""
    accounts = db.session.scalars(
        sa.select(DELIVERIES.c.user_id).where(DELIVERIES.c.status == "deferred").distinct()
    ).all()
    return sum(queue_deferred_of(user_id) for user_id in accounts)


def queue_delivery(endpoint: WebhookEndpoint, event_type: str, body: dict, message_id=None):
    """Store a delivery for the endpoint and queue its first attempt, or keep it deferred while
    the account has its share of the queue (WEBHOOK_ACCOUNT_IN_FLIGHT) or the queue is down."""
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        user_id=endpoint.user_id,
        message_id=message_id or new_message_id(),
        event_type=event_type,
        payload=body,
        status="deferred",
        attempts=0,
    )
    db.session.add(delivery)
    db.session.commit()
    if admit(delivery.id, delivery.user_id, ("deferred",)):
        enqueue_admitted(delivery.id)
    db.session.refresh(delivery)
    return delivery


def busy_deliveries(user_id) -> sa.ScalarSelect:
    """How many of the account's deliveries are on the queue or being sent."""
    return (
        sa.select(sa.func.count())
        .select_from(DELIVERIES)
        .where(DELIVERIES.c.user_id == user_id, DELIVERIES.c.status.in_(("pending", "sending")))
        .scalar_subquery()
    )


def admit(delivery_id, user_id, from_statuses: tuple[str, ...], to: str = "pending") -> bool:
    """Move the delivery from one of `from_statuses` to `to` if its account has fewer than
    WEBHOOK_ACCOUNT_IN_FLIGHT deliveries on the queue or being sent (one statement, so two
    workers rarely overshoot: at most by one each)."""
    cap = current_app.config["WEBHOOK_ACCOUNT_IN_FLIGHT"]
    statement = (
        sa.update(DELIVERIES)
        .where(
            DELIVERIES.c.id == delivery_id,
            DELIVERIES.c.status.in_(from_statuses),
            busy_deliveries(user_id) < cap,
        )
        .values(status=to)
        .returning(DELIVERIES.c.id)
    )
    admitted = db.session.execute(statement).scalar_one_or_none() is not None
    db.session.commit()
    return admitted


def enqueue_admitted(delivery_id) -> bool:
    """Queue an admitted (pending) delivery's attempt; when the queue is down, defer it again
    (kept, not lost: `send_deferred_deliveries` tries every minute). Whether it was queued."""
    try:
        jobs.enqueue(deliver_webhook, str(delivery_id))
        return True
    except QueueUnavailable:
        logger.warning("Webhook delivery %s deferred: the queue is unavailable", delivery_id)
        defer(delivery_id, "pending")
        return False


def defer(delivery_id, status: str) -> None:
    """Put the delivery back to wait its turn (`deferred`) if it is still in `status`."""
    db.session.execute(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == status)
        .values(status="deferred")
    )
    db.session.commit()


def queue_deferred_of(user_id) -> int:
    """Queue the account's oldest deferred deliveries while it is under its share; how many."""
    queued = 0
    while True:
        oldest = db.session.scalar(
            sa.select(DELIVERIES.c.id)
            .where(DELIVERIES.c.user_id == user_id, DELIVERIES.c.status == "deferred")
            .order_by(DELIVERIES.c.created_at, DELIVERIES.c.id)
            .limit(1)
        )
        if oldest is None or not admit(oldest, user_id, ("deferred",)):
            return queued
        if not enqueue_admitted(oldest):
            return queued
        queued += 1


@alert_raised.connect
def send_alert(user_id: uuid.UUID, event_type: str, data: dict, at: datetime) -> None:
    """Every alert raised goes to the account's endpoints that subscribed to it."""
    fan_out(user_id, event_type, data, at)


def fan_out(user_id: uuid.UUID, event_type: str, data: dict, at: datetime | None = None) -> int:
    """Queue the event to every enabled endpoint of the account that subscribed to it."""
    body = event_body(event_type, data, at)
    message_id = new_message_id()  # one event, one id, whichever endpoint receives it
    sent = 0
    for endpoint in endpoints_of(user_id):
        if endpoint.is_enabled and event_type in endpoint.event_types:
            queue_delivery(endpoint, event_type, body, message_id)
            sent += 1
    return sent


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a webhook.test event to this endpoint (enabled or not)."""
    data = {"endpoint_id": str(endpoint.id), "message": "A test event from Toolbox."}
    return queue_delivery(endpoint, TEST_EVENT, event_body(TEST_EVENT, data))


def resend(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's message again (same webhook-id, so receivers can deduplicate)."""
    return queue_delivery(
        delivery.endpoint, delivery.event_type, delivery.payload, delivery.message_id
    )
