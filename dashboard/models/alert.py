"""Alerts a customer turns on, the alerts raised, and the webhook endpoints they go to."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, new_id, utcnow


class AlertSettings(db.Model):
    """Which alerts an account wants, and whether they also go by email (one row per account)."""

    __tablename__ = "alert_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    by_email: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    quota: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    error_rate: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    error_rate_percent: Mapped[int] = mapped_column(sa.Integer, default=10)
    error_rate_min_calls: Mapped[int] = mapped_column(sa.Integer, default=20)
    key_expiry: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AlertKeyWatch(db.Model):
    """A key whose use from an IP never seen for it raises an alert (optional, per key)."""

    __tablename__ = "alert_key_watches"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class KeySeenIp(db.Model):
    """An IP a watched key was used from; the primary key makes 'new' a database decision."""

    __tablename__ = "api_key_seen_ips"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    ip: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AlertEvent(db.Model):
    """An alert raised for an account. (user_id, dedupe_key) is unique: an alert is raised once
    (e.g. `quota:2026-12:80` once a month), whichever worker sees it first."""

    __tablename__ = "alert_events"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "dedupe_key", name="alert_events_user_dedupe_key"),
        sa.Index("alert_events_user_created_idx", "user_id", sa.text("created_at DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(sa.Text)
    dedupe_key: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[dict] = mapped_column(Json)
    email_status: Mapped[str | None] = mapped_column(sa.Text)  # sent / off / failed: why
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class WebhookEndpoint(db.Model):
    """A customer's URL that receives signed events (Standard Webhooks)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("webhook_endpoints_user_idx", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    event_types: Mapped[list] = mapped_column(Json)
    # whsec_<base64>: kept to sign with (HMAC needs it), shown to the customer once.
    secret: Mapped[str] = mapped_column(sa.Text)
    previous_secret: Mapped[str | None] = mapped_column(sa.Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(Timestamp)
    is_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    deliveries = relationship(
        "WebhookDelivery", back_populates="endpoint", passive_deletes=True, lazy="dynamic"
    )


class WebhookDelivery(db.Model):
    """One message to one endpoint, with the outcome of its latest attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index(
            "webhook_deliveries_endpoint_created_idx", "endpoint_id", sa.text("created_at DESC")
        ),
        sa.Index("webhook_deliveries_user_created_idx", "user_id", sa.text("created_at DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(sa.Text)  # the webhook-id header; kept on resend
    event_type: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[dict] = mapped_column(Json)
    status: Mapped[str] = mapped_column(
        sa.Text, default="pending"
    )  # pending/retrying/succeeded/failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    response_excerpt: Mapped[str | None] = mapped_column(sa.Text)
    latency_ms: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)

    endpoint = relationship("WebhookEndpoint", back_populates="deliveries")
