"""Webhook endpoints and their deliveries: create, rotate, enable, fan events out, resend."""

import base64
import logging
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.alerts.events import TEST_EVENT, event_body
from dashboard.extensions import db
from dashboard.jobs import QueueUnavailable, jobs
from dashboard.models import WebhookDelivery, WebhookEndpoint, utcnow
from dashboard.models.types import parse_uuid

MAX_ENDPOINTS = 10
DELIVERIES = WebhookDelivery.__table__
logger = logging.getLogger(__name__)


class TooManyEndpoints(Exception):
    """The account already has MAX_ENDPOINTS endpoints."""


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def endpoints_of(user_id: uuid.UUID) -> list[WebhookEndpoint]:
    """The account's endpoints, oldest first."""
    query = (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user_id)
        .order_by(WebhookEndpoint.created_at)
    )
    return list(db.session.scalars(query))


def endpoint_of(user_id: uuid.UUID, endpoint_id) -> WebhookEndpoint | None:
    """The account's endpoint with this id; None for anyone else's and for malformed ids."""
    endpoint_id = parse_uuid(endpoint_id)
    if endpoint_id is None:
        return None
    return db.session.scalar(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.user_id == user_id
        )
    )


def create_endpoint(
    user_id: uuid.UUID, url: str, description: str, event_types: list[str]
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; it and its secret (to show once)."""
    count = db.session.scalar(sa.select(sa.func.count()).where(WebhookEndpoint.user_id == user_id))
    if count >= MAX_ENDPOINTS:
        raise TooManyEndpoints
    secret = new_secret()
    endpoint = WebhookEndpoint(
        user_id=user_id,
        url=url,
        description=description,
        event_types=sorted(event_types),
        secret=secret,
        is_enabled=True,
        consecutive_failures=0,
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint, secret


def update_endpoint(endpoint: WebhookEndpoint, url: str, description: str, event_types) -> None:
    """Change an endpoint's URL, description and event types."""
    endpoint.url = url
    endpoint.description = description
    endpoint.event_types = sorted(event_types)
    db.session.commit()


def rotate_secret(endpoint: WebhookEndpoint, now: datetime | None = None) -> str:
    """A new secret; the old one still signs (beside it) for WEBHOOK_SECRET_OVERLAP_HOURS."""
    now = now or utcnow()
    hours = current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"]
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + timedelta(hours=hours)
    endpoint.secret = new_secret()
    db.session.commit()
    return endpoint.secret


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous during overlap."""
    now = now or utcnow()
    found = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_until
        and now < endpoint.previous_secret_until
    ):
        found.append(endpoint.previous_secret)
    return found


def set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> None:
    """Disable an endpoint, or enable it again with a clean failure count."""
    endpoint.is_enabled = enabled
    endpoint.disabled_reason = None if enabled else "Disabled by you."
    if enabled:
        endpoint.consecutive_failures = 0
    db.session.commit()


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    db.session.delete(endpoint)
    db.session.commit()


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
    from dashboard.webhooks.tasks import deliver_webhook

    try:
        jobs.enqueue(deliver_webhook, str(delivery_id))
        return True
    except QueueUnavailable:
        logger.warning("Webhook delivery %s deferred: the queue is unavailable", delivery_id)
        db.session.execute(
            sa.update(DELIVERIES)
            .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == "pending")
            .values(status="deferred")
        )
        db.session.commit()
        return False


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


def deliveries_of(endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def recent_deliveries(user_id: uuid.UUID, limit: int = 20) -> list[WebhookDelivery]:
    """The account's latest deliveries to any endpoint, newest first."""
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.user_id == user_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def delivery_of(user_id: uuid.UUID, delivery_id) -> WebhookDelivery | None:
    """The account's delivery with this id; None otherwise."""
    delivery_id = parse_uuid(delivery_id)
    if delivery_id is None:
        return None
    return db.session.scalar(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.user_id == user_id
        )
    )
