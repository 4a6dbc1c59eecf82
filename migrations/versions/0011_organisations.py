"""Organisations: accounts that people share, with members, roles and invitations.

An organisation is a `users` row too (as GitHub makes an organisation a user of type
Organization), so every seed foreign key (`api_keys.user_id`, `tool_logs.user_id`,
`usage_summaries.user_id`) keeps pointing at whoever owns the row, and a Prisma service on the
same database keeps working. What makes a `users` row an organisation is a row here:

- organisations: the name, the slug in its URLs, the billing contact, and its settings (two-factor
  sign-in required of every member). Its `users` row has no password and an address under the
  reserved `.invalid` domain (RFC 2606), so no one can sign in as the organisation, reset its
  password or receive its mail; the billing contact lives here, not in `users.email`, so it may
  also be a person's own sign-in address.
- memberships: who belongs to which organisation, in which role (owner, admin, developer,
  viewer, billing). A person's own account needs no row: they own it.
- invitations: an emailed, expiring, single-use link to join in a role. Only the SHA-256 of the
  link's secret is kept; accepting, revoking and resending (a new secret) are single statements
  on the row.

Who made, rolled or expired a key needs no column on the seed's `api_keys`: `audit_events`
already names the person (actor) and the account (subject) of every key action.

Revision ID: 0011_organisations
Revises: 0010_account_security
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_organisations"
down_revision = "0010_account_security"
branch_labels = None
depends_on = None

ROLES = ("owner", "admin", "developer", "viewer", "billing")


def timestamp():
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.TIMESTAMP(precision=3)
    return sa.DateTime()


def account_column(name: str, **options) -> sa.Column:
    return sa.Column(name, sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), **options)


def person_column(name: str) -> sa.Column:
    """Who did something: kept as NULL when that person's account is deleted."""
    return sa.Column(name, sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL"))


def role_check(table: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{role}'" for role in ROLES)
    return sa.CheckConstraint(f"role IN ({allowed})", name=f"{table}_role_is_known")


def upgrade():
    op.create_table(
        "organisations",
        account_column("user_id", primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False, unique=True),
        sa.Column("billing_email", sa.Text(), nullable=False),
        sa.Column("require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false()),
        person_column("created_by_id"),
        sa.Column(
            "created_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
    )
    op.create_table(
        "memberships",
        account_column("organisation_id", primary_key=True),
        account_column("person_id", primary_key=True),
        sa.Column("role", sa.Text(), nullable=False),
        person_column("invited_by_id"),
        sa.Column(
            "created_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        role_check("memberships"),
    )
    # "Which accounts may this person open": read on every page of an organisation.
    op.create_index("ix_memberships_person_id", "memberships", ["person_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        account_column("organisation_id", nullable=False),
        sa.Column("email", sa.Text(), nullable=False),  # as typed; matched without case
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False, unique=True),
        person_column("invited_by_id"),
        sa.Column(
            "created_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.Column("expires_at", timestamp(), nullable=False),
        sa.Column("accepted_at", timestamp()),
        person_column("accepted_by_id"),
        sa.Column("revoked_at", timestamp()),
        role_check("invitations"),
    )
    op.create_index("ix_invitations_organisation_id", "invitations", ["organisation_id"])


def downgrade():
    op.drop_index("ix_invitations_organisation_id", table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_memberships_person_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("organisations")
