"""Account security stamps: one row per account that emailed links and TOTP codes are checked
against.

- link_generation: every emailed link (address confirmation, password reset, email change)
  carries the generation it was made in; a password change, a reset and "log out everywhere
  else" add one, so every link sent before stops working.
- totp_last_step: the last TOTP time step accepted, so a code (or an earlier step's) works once.

A table of its own, not columns on the seed's `users`: a row is made when first needed, and a
service that writes `users` without knowing it (Prisma's, from the seed) is not affected.

Revision ID: 0010_account_security
Revises: 0009_playground
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_account_security"
down_revision = "0009_playground"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "account_security",
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("link_generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("totp_last_step", sa.BigInteger()),
    )


def downgrade():
    op.drop_table("account_security")
