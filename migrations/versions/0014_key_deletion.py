"""Deleting API keys: api_keys.deleted_at.

- api_keys.deleted_at: when the key was deleted (NULL: not deleted). Deleting keeps the row (its
  tool_logs, usage_daily, rejected_calls and error_group_days rows reference it, and the month's
  usage keeps counting its calls); a deleted key also has revoked_at, so the gateway refuses it
  with no change to the hot path, and it is left out of every list of keys.

Revision ID: 0014_key_deletion
Revises: 0013_leak_reports
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_key_deletion"
down_revision = "0013_leak_reports"
branch_labels = None
depends_on = None


def timestamp():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.TIMESTAMP(precision=3)
    return sa.DateTime()


def upgrade():
    op.add_column("api_keys", sa.Column("deleted_at", timestamp()))


def downgrade():
    op.drop_column("api_keys", "deleted_at")
