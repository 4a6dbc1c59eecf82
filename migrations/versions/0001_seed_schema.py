"""The seed's schema, exactly as Prisma creates it from schema.prisma.

On PostgreSQL this runs the SQL that `prisma migrate` generates for the seed, so a database
that Prisma made can be adopted with `flask db stamp 0001_seed_schema && flask db upgrade`.
On SQLite it creates the same tables with portable types.

Revision ID: 0001_seed_schema
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_seed_schema"
down_revision = None
branch_labels = None
depends_on = None

PRISMA_SQL = """
CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "subscription_plan" TEXT NOT NULL DEFAULT 'free',
    "role" TEXT NOT NULL DEFAULT 'user',
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMP(3),
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "rate_limit_per_minute" INTEGER NOT NULL DEFAULT 100,
    "last_request_at" TIMESTAMP(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "tool_logs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "api_key_id" UUID NOT NULL,
    "tool_name" TEXT NOT NULL,
    "tool_version" TEXT NOT NULL DEFAULT 'v1',
    "input_payload" JSONB,
    "output_payload" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" TEXT NOT NULL DEFAULT 'success',
    "execution_time_ms" INTEGER,
    "tokens_used" INTEGER,
    "error_message" TEXT,
    CONSTRAINT "tool_logs_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "usage_summaries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "month_year" TEXT NOT NULL,
    "total_calls" INTEGER NOT NULL DEFAULT 0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "usage_summaries_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "tools" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "description" TEXT,
    "version" TEXT NOT NULL DEFAULT 'v1',
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "endpoint_path" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tools_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");
CREATE UNIQUE INDEX "api_keys_key_key" ON "api_keys"("key");
CREATE UNIQUE INDEX "usage_summaries_user_id_month_year_key"
    ON "usage_summaries"("user_id", "month_year");
CREATE UNIQUE INDEX "tools_name_version_key" ON "tools"("name", "version");
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_fkey" FOREIGN KEY ("user_id")
    REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "tool_logs" ADD CONSTRAINT "tool_logs_user_id_fkey" FOREIGN KEY ("user_id")
    REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "tool_logs" ADD CONSTRAINT "tool_logs_api_key_id_fkey" FOREIGN KEY ("api_key_id")
    REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "usage_summaries" ADD CONSTRAINT "usage_summaries_user_id_fkey" FOREIGN KEY ("user_id")
    REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in PRISMA_SQL.split(";"):
            if statement.strip():
                op.execute(statement)
        return
    create_portable_tables()


def create_portable_tables():
    """The same tables for SQLite: UUIDs as text, JSON as text, ids made by the app."""
    now = sa.text("CURRENT_TIMESTAMP")
    cascade = {"ondelete": "CASCADE", "onupdate": "CASCADE"}
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=now),
        sa.Column("subscription_plan", sa.Text(), nullable=False, server_default="free"),
        sa.Column("role", sa.Text(), nullable=False, server_default="user"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", **cascade), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=now),
        sa.Column("expires_at", sa.DateTime()),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False, server_default="100"),
        sa.Column("last_request_at", sa.DateTime()),
    )
    op.create_table(
        "tool_logs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", **cascade), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", **cascade), nullable=False),
        sa.Column("tool_name", sa.Text(), nullable=False),
        sa.Column("tool_version", sa.Text(), nullable=False, server_default="v1"),
        sa.Column("input_payload", sa.JSON()),
        sa.Column("output_payload", sa.JSON()),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=now),
        sa.Column("status", sa.Text(), nullable=False, server_default="success"),
        sa.Column("execution_time_ms", sa.Integer()),
        sa.Column("tokens_used", sa.Integer()),
        sa.Column("error_message", sa.Text()),
    )
    op.create_table(
        "usage_summaries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", **cascade), nullable=False),
        sa.Column("month_year", sa.Text(), nullable=False),
        sa.Column("total_calls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=now),
    )
    op.create_table(
        "tools",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("version", sa.Text(), nullable=False, server_default="v1"),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("endpoint_path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=now),
    )
    op.create_index("users_email_key", "users", ["email"], unique=True)
    op.create_index("api_keys_key_key", "api_keys", ["key"], unique=True)
    op.create_index(
        "usage_summaries_user_id_month_year_key",
        "usage_summaries",
        ["user_id", "month_year"],
        unique=True,
    )
    op.create_index("tools_name_version_key", "tools", ["name", "version"], unique=True)


def downgrade():
    for table in ("tool_logs", "usage_summaries", "api_keys", "tools", "users"):
        op.drop_table(table)
