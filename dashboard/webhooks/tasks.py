"""The delivery job: one attempt, then success, a retry with backoff and jitter, or failure.

Retries go on for WEBHOOK_RETRY_FOR_SECONDS after the delivery was made (a day by default);
an endpoint that fails WEBHOOK_DISABLE_AFTER_FAILURES attempts in a row is disabled and its
owner emailed. Counters move in single UPDATE statements, so concurrent deliveries to one
endpoint neither lose a failure nor send the "disabled" email twice.
"""

import random
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from huey import crontab

from dashboard.alerts.events import TEST_EVENT
from dashboard.alerts.service import endpoint_disabled
from dashboard.extensions import db
from dashboard.jobs import QueueUnavailable, jobs
from dashboard.models import WebhookDelivery, WebhookEndpoint, utcnow
from dashboard.webhooks.delivery import attempt
from dashboard.webhooks.service import admit, queue_deferred_of, signing_secrets

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
    db.session.execute(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == "retrying")
        .values(status="deferred")
    )
    db.session.commit()
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
