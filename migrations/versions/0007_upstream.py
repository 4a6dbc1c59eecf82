"""Upstream tools: the `tools` table holds each version's kind and, for upstream versions
(the company's own HTTP services), their whole definition.

Revision ID: 0007_upstream
Revises: 0006_alerts
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_upstream"
down_revision = "0006_alerts"
branch_labels = None
depends_on = None

ADDED = (
    "title",
    "input_schema",
    "output_schema",
    "example_input",
    "upstream_url",
    "timeout_ms",
    "max_concurrency",
    "secret_ref",
    "managed_by",
    "updated_at",
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    json_type = postgresql.JSONB() if postgres else sa.JSON()
    timestamp = postgresql.TIMESTAMP(precision=3) if postgres else sa.DateTime()
    with op.batch_alter_table("tools") as table:
        table.add_column(sa.Column("kind", sa.Text(), nullable=False, server_default="builtin"))
        table.add_column(sa.Column("title", sa.Text(), nullable=True))
        table.add_column(sa.Column("input_schema", json_type, nullable=True))
        table.add_column(sa.Column("output_schema", json_type, nullable=True))
        table.add_column(sa.Column("example_input", json_type, nullable=True))
        table.add_column(sa.Column("upstream_url", sa.Text(), nullable=True))
        table.add_column(sa.Column("timeout_ms", sa.Integer(), nullable=True))
        table.add_column(sa.Column("max_concurrency", sa.Integer(), nullable=True))
        table.add_column(sa.Column("secret_ref", sa.Text(), nullable=True))
        table.add_column(sa.Column("managed_by", sa.Text(), nullable=True))
        table.add_column(sa.Column("updated_at", timestamp, nullable=True))
        table.create_check_constraint("tools_kind", "kind IN ('builtin', 'plugin', 'upstream')")


def downgrade():
    with op.batch_alter_table("tools") as table:
        table.drop_constraint("tools_kind", type_="check")
        for column in (*ADDED, "kind"):
            table.drop_column(column)
