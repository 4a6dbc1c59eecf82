"""Keys by code: root keys for the management API, idempotent writes, per-key monthly caps and
test-mode keys.

- root_keys: an account's management secrets (`tk_root_…`), kept as their SHA-256 like API
  keys, in a table of their own so that no query of API keys can ever find one (a root key never
  calls tools; an API key never manages). Scopes (`keys:read`, `keys:write`, …) are chosen at
  creation; optional expiry and IP allowlist; last use; who made it.
- idempotent_requests: the answer to each write sent with an `Idempotency-Key`, per root key,
  so a retried create returns the same key and never a second one; the request's hash tells a
  replay with a different body (422).
- api_keys.monthly_call_cap: an optional cap on one key's calls a month, beside the account's
  quota. NULL: no cap of its own.
- api_keys.is_test: a test-mode key (`tk_test_…`): validated and answered like any key, logged,
  never counted against the quota or in billable usage. NOT NULL DEFAULT false, so a service
  that inserts keys without knowing the column (Prisma's, from the seed) makes live keys.

Revision ID: 0012_management
Revises: 0011_organisations
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_management"
down_revision = "0011_organisations"
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
        "root_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False, unique=True),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("scopes", json_type(), nullable=False),
        sa.Column("allowed_ips", json_type()),
        sa.Column("expires_at", timestamp()),
        sa.Column("created_by_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "created_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.Column("last_used_at", timestamp()),
        sa.Column("revoked_at", timestamp()),
    )
    op.create_index("ix_root_keys_account_id", "root_keys", ["account_id"])
    op.create_table(
        "idempotent_requests",
        sa.Column(
            "root_key_id",
            sa.Uuid(),
            sa.ForeignKey("root_keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("idempotency_key", sa.Text(), primary_key=True),
        sa.Column("request_hash", sa.Text(), nullable=False),
        # NULL while the first request is still being answered.
        sa.Column("status", sa.Integer()),
        sa.Column("body", sa.Text()),
        sa.Column(
            "created_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
    )
    op.add_column("api_keys", sa.Column("monthly_call_cap", sa.Integer()))
    op.add_column(
        "api_keys",
        sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    op.drop_column("api_keys", "is_test")
    op.drop_column("api_keys", "monthly_call_cap")
    op.drop_table("idempotent_requests")
    op.drop_index("ix_root_keys_account_id", table_name="root_keys")
    op.drop_table("root_keys")
