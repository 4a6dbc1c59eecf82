"""Webhook endpoints and their deliveries: create, rotate, enable, fan events out, resend."""

import base64
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.extensions import db
from dashboard.models import WebhookDelivery, WebhookEndpoint, utcnow
from dashboard.models.types import parse_uuid

MAX_ENDPOINTS = 10


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
