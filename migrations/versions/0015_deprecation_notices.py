"""Deprecation notices: the accounts told that their keys call a deprecated tool version, and
an upstream tool version's life.

- deprecation_notices: one row per (account, tool name, version) once the account's contacts
  were sent the one-time notice (an email and an alert); the primary key makes it once, whichever
  worker gets there first.
- tools: released_on, deprecated_on, sunset_on (dates) and replacement (a version) for upstream
  versions, set by the catalog file or the super-admin page; all NULL for the others, whose
  dates are in code.

Revision ID: 0015_deprecation_notices
Revises: 0014_key_deletion
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_deprecation_notices"
down_revision = "0014_key_deletion"
branch_labels = None
depends_on = None


def timestamp():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.TIMESTAMP(precision=3)
    return sa.DateTime()


LIFE = ("released_on", "deprecated_on", "sunset_on")


def upgrade():
    for column in LIFE:
        op.add_column("tools", sa.Column(column, sa.Date(), nullable=True))
    op.add_column("tools", sa.Column("replacement", sa.Text(), nullable=True))
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
    with op.batch_alter_table("tools") as batch:  # SQLite copies the table to drop columns
        for column in (*LIFE, "replacement"):
            batch.drop_column(column)
