"""The tools' playground: short-lived keys the dashboard makes to run a tool for its user.

api_keys.is_playground marks them: the keys page does not list them, the plan's key cap does not
count them, and no expiry notice is sent for them. NOT NULL DEFAULT false, so a service that
inserts keys without knowing the column (Prisma's, from the seed) makes ordinary keys.

Revision ID: 0009_playground
Revises: 0008_errors
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_playground"
down_revision = "0008_errors"
branch_labels = None
depends_on = None


# Plain ALTER TABLE ... ADD/DROP COLUMN on both databases (SQLite 3.35+ drops columns): batch
# mode would reflect and copy api_keys, and SQLite cannot reflect the expression index on users
# that api_keys' foreign key leads to.


def upgrade():
    op.add_column(
        "api_keys",
        sa.Column("is_playground", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    op.drop_column("api_keys", "is_playground")
