"""Deprecation notices: the accounts told that their keys call a deprecated tool version.

- deprecation_notices: one row per (account, tool name, version) once the account's contacts
  were sent the one-time notice (an email and an alert); the primary key makes it once, whichever
  worker gets there first.

Revision ID: 0015_deprecation_notices
Revises: 0013_leak_reports
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_deprecation_notices"
down_revision = "0013_leak_reports"
branch_labels = None
depends_on = None


def timestamp():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.TIMESTAMP(precision=3)
    return sa.DateTime()


def upgrade():
    op.create_table(
        "deprecation_notices",
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tool_name", sa.Text(), primary_key=True),
        sa.Column("tool_version", sa.Text(), primary_key=True),
        sa.Column(
            "sent_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
    )


def downgrade():
    op.drop_table("deprecation_notices")
