"""Leak reports: what an account wants done when one of its keys is reported leaked.

- account_settings: one row per account (a person or an organisation: a users row) that
  changed a setting; no row means the defaults. `leaked_key_action` is `expire` (the default:
  a key a secret scanner found in public stops at once) or `alert` (the key keeps working; the
  owners are told, as they are in both cases).

Revision ID: 0013_leak_reports
Revises: 0012_management
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_leak_reports"
down_revision = "0012_management"
branch_labels = None
depends_on = None


def timestamp():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.TIMESTAMP(precision=3)
    return sa.DateTime()


def upgrade():
    op.create_table(
        "account_settings",
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "leaked_key_action", sa.Text(), nullable=False, server_default=sa.text("'expire'")
        ),
        sa.Column(
            "updated_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.CheckConstraint(
            "leaked_key_action IN ('expire', 'alert')", name="ck_account_settings_leaked_key_action"
        ),
    )


def downgrade():
    op.drop_table("account_settings")
