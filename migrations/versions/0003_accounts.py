"""Accounts you can trust: server-side sessions, viewing-as records, security history, 2FA.

Revision ID: 0003_accounts
Revises: 0002_dashboard
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_accounts"
down_revision = "0002_dashboard"
branch_labels = None
depends_on = None


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def timestamp():
    return postgresql.TIMESTAMP(precision=3) if is_postgresql() else sa.DateTime()


def json_type():
    return postgresql.JSONB() if is_postgresql() else sa.JSON()


def id_column() -> sa.Column:
    default = sa.text("gen_random_uuid()") if is_postgresql() else None
    return sa.Column("id", sa.Uuid(), primary_key=True, server_default=default)


def now_column(name: str) -> sa.Column:
    return sa.Column(name, timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def user_column(name: str = "user_id") -> sa.Column:
    return sa.Column(name, sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade():
    # Plain ADD COLUMN (no batch copy): SQLite's batch mode would lose users_email_lower_key.
    op.add_column("users", sa.Column("email_verified_at", timestamp()))
    op.add_column("users", sa.Column("totp_secret", sa.Text()))
    op.add_column("users", sa.Column("totp_enabled_at", timestamp()))

    op.create_table(
        "web_sessions",
        sa.Column("session_id", sa.Text(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", timestamp(), nullable=False),
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])

    op.create_table(
        "user_sessions",
        id_column(),
        user_column(),
        now_column("created_at"),
        now_column("last_seen_at"),
        sa.Column("ip", sa.Text()),
        sa.Column("user_agent", sa.Text()),
        sa.Column("ended_at", timestamp()),
        sa.Column("ended_reason", sa.Text()),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])

    op.create_table(
        "impersonations",
        id_column(),
        sa.Column(
            "session_id",
            sa.Uuid(),
            sa.ForeignKey("user_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        user_column("actor_id"),
        user_column("subject_id"),
        sa.Column("reason", sa.Text(), nullable=False),
        now_column("started_at"),
        sa.Column("ends_at", timestamp(), nullable=False),
        sa.Column("ended_at", timestamp()),
        sa.Column("ended_how", sa.Text()),
    )
    op.create_index("ix_impersonations_session_id", "impersonations", ["session_id"])

    op.create_table(
        "security_events",
        id_column(),
        user_column(),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("details", json_type()),
        sa.Column("ip", sa.Text()),
        sa.Column("user_agent", sa.Text()),
        now_column("created_at"),
    )
    op.create_index("security_events_user_time", "security_events", ["user_id", "created_at"])

    op.create_table(
        "recovery_codes",
        id_column(),
        user_column(),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("used_at", timestamp()),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])


def downgrade():
    op.drop_table("recovery_codes")
    op.drop_table("security_events")
    op.drop_table("impersonations")
    op.drop_table("user_sessions")
    op.drop_table("web_sessions")
    # SQLite's batch copy cannot carry the expression index: drop it and make it again after.
    op.drop_index("users_email_lower_key", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
        batch.drop_column("email_verified_at")
    op.create_index("users_email_lower_key", "users", [sa.text("lower(email)")], unique=True)
