"""Alerts and webhooks: settings, raised alerts, watched keys and their IPs, endpoints, deliveries.

Revision ID: 0006_alerts
Revises: 0002_dashboard
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_alerts"
down_revision = "0002_dashboard"
branch_labels = None
depends_on = None


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def timestamp():
    return postgresql.TIMESTAMP(precision=3) if is_postgresql() else sa.DateTime()


def json_type():
    return postgresql.JSONB() if is_postgresql() else sa.JSON()


def now_default() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def user_column(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "user_id",
        sa.Uuid(),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def flag(name: str, default: bool) -> sa.Column:
    return sa.Column(
        name, sa.Boolean(), nullable=False, server_default=sa.true() if default else sa.false()
    )


def upgrade():
    op.create_table(
        "alert_settings",
        user_column(primary_key=True),
        flag("by_email", True),
        flag("quota", False),
        flag("error_rate", False),
        sa.Column("error_rate_percent", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("error_rate_min_calls", sa.Integer(), nullable=False, server_default="20"),
        flag("key_expiry", False),
        sa.Column("updated_at", timestamp(), nullable=False, server_default=now_default()),
    )
    op.create_table(
        "alert_key_watches",
        sa.Column(
            "api_key_id",
            sa.Uuid(),
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        user_column(),
        sa.Column("created_at", timestamp(), nullable=False, server_default=now_default()),
    )
    op.create_table(
        "api_key_seen_ips",
        sa.Column(
            "api_key_id",
            sa.Uuid(),
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("ip", sa.Text(), primary_key=True),
        sa.Column("first_seen_at", timestamp(), nullable=False, server_default=now_default()),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        user_column(),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("payload", json_type(), nullable=False),
        sa.Column("email_status", sa.Text()),
        sa.Column("created_at", timestamp(), nullable=False, server_default=now_default()),
        sa.UniqueConstraint("user_id", "dedupe_key", name="alert_events_user_dedupe_key"),
    )
    op.create_index(
        "alert_events_user_created_idx",
        "alert_events",
        [sa.text("user_id"), sa.text("created_at DESC")],
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), primary_key=True),
        user_column(),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("event_types", json_type(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text()),
        sa.Column("previous_secret_until", timestamp()),
        flag("is_enabled", True),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", timestamp(), nullable=False, server_default=now_default()),
    )
    op.create_index("webhook_endpoints_user_idx", "webhook_endpoints", ["user_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "endpoint_id",
            sa.Uuid(),
            sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
        ),
        user_column(),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", json_type(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("response_status", sa.Integer()),
        sa.Column("response_excerpt", sa.Text()),
        sa.Column("latency_ms", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", timestamp(), nullable=False, server_default=now_default()),
        sa.Column("last_attempt_at", timestamp()),
        sa.Column("next_attempt_at", timestamp()),
    )
    op.create_index(
        "webhook_deliveries_endpoint_created_idx",
        "webhook_deliveries",
        [sa.text("endpoint_id"), sa.text("created_at DESC")],
    )
    op.create_index(
        "webhook_deliveries_user_created_idx",
        "webhook_deliveries",
        [sa.text("user_id"), sa.text("created_at DESC")],
    )


def downgrade():
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("alert_events")
    op.drop_table("api_key_seen_ips")
    op.drop_table("alert_key_watches")
    op.drop_table("alert_settings")
