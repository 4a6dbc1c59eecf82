"""Portal settings: what a super admin changed of the developer portal on its settings page.

- portal_settings: one row at most (id 1, checked), none until the page is first saved. Each
  text column NULL means "as configured" (PORTAL_TITLE, PORTAL_TAGLINE, PORTAL_LOGO_URL,
  PORTAL_INTRO); `public_tools_choice` NULL follows PORTAL_PUBLIC_TOOLS, `all` shows every
  tool and `chosen` only the names in `public_tools` (a JSON list). PORTAL_ENABLED has no
  column: switching the portal on or off stays with the environment (docs/portal.md).

Revision ID: 0016_portal_settings
Revises: 0013_leak_reports
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_portal_settings"
down_revision = "0013_leak_reports"
branch_labels = None
depends_on = None


def timestamp():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.TIMESTAMP(precision=3)
    return sa.DateTime()


def json_type():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.JSONB()
    return sa.JSON()


def upgrade():
    op.create_table(
        "portal_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("title", sa.Text()),
        sa.Column("tagline", sa.Text()),
        sa.Column("logo_url", sa.Text()),
        sa.Column("intro", sa.Text()),
        sa.Column("public_tools_choice", sa.Text()),
        sa.Column("public_tools", json_type(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("updated_by_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "updated_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.CheckConstraint("id = 1", name="ck_portal_settings_one_row"),
        sa.CheckConstraint(
            "public_tools_choice IN ('all', 'chosen')",
            name="ck_portal_settings_public_tools_choice",
        ),
    )


def downgrade():
    op.drop_table("portal_settings")
