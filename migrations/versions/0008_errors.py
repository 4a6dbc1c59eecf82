"""What failed and why: every outcome in the logs, refused calls per minute, error groups.

- tool_logs gains the answer's HTTP status, every schema error of an invalid_input call, the
  error's fingerprint (what the errors inbox groups by) and where the call came from
  (NULL for the API, `playground` for the dashboard's playground).
- rejected_calls: calls refused before logging (rate limit, quota, concurrency), one row per
  key, tool, reason and minute with a count.
- error_group_days: failed calls per user, day, key, tool, version, error code and
  fingerprint, kept by metering; the errors inbox reads it, never tool_logs.
- PostgreSQL: a trigram index on the error messages of failed calls (pg_trgm), so that the
  logs' error search finds nothing without reading every failed call.

Revision ID: 0008_errors
Revises: 0007_upstream
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_errors"
down_revision = "0007_upstream"
branch_labels = None
depends_on = None

# The status each error code is answered with (rows written before this revision).
STATUS_OF_CODE = {
    "invalid_json": 400,
    "ip_not_allowed": 403,
    "tool_not_allowed": 403,
    "payload_too_large": 413,
    "invalid_input": 422,
    "tool_error": 500,
}


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def timestamp():
    return postgresql.TIMESTAMP(precision=3) if is_postgresql() else sa.DateTime()


def json_type():
    return postgresql.JSONB() if is_postgresql() else sa.JSON()


def upgrade():
    with op.batch_alter_table("tool_logs") as batch:
        batch.add_column(sa.Column("http_status", sa.Integer()))
        batch.add_column(sa.Column("errors", json_type()))
        batch.add_column(sa.Column("error_fingerprint", sa.Text()))
        batch.add_column(sa.Column("source", sa.Text()))
    cases = " ".join(f"WHEN '{code}' THEN {status}" for code, status in STATUS_OF_CODE.items())
    op.execute(
        "UPDATE tool_logs SET http_status = CASE WHEN status = 'success' THEN 200 "
        f"ELSE CASE error_code {cases} ELSE 500 END END"
    )
    newest = [sa.text("created_at DESC"), sa.text("id DESC")]
    # The inbox's link to one group's calls walks this index (failed calls only) ...
    op.create_index(
        "tool_logs_user_group_created_idx",
        "tool_logs",
        [
            sa.text("user_id"),
            sa.text("error_fingerprint"),
            sa.text("tool_name"),
            sa.text("tool_version"),
            *newest,
        ],
        postgresql_where=sa.text("error_fingerprint IS NOT NULL"),
        sqlite_where=sa.text("error_fingerprint IS NOT NULL"),
    )
    # ... and the error-code filter this one (a rare code is not found by reading every error).
    op.create_index(
        "tool_logs_user_code_created_idx",
        "tool_logs",
        [sa.text("user_id"), sa.text("error_code"), *newest],
        postgresql_where=sa.text("status = 'error'"),
        sqlite_where=sa.text("status = 'error'"),
    )

    op.create_table(
        "rejected_calls",
        sa.Column("api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", ondelete="CASCADE")),
        sa.Column("minute", timestamp()),
        sa.Column("reason", sa.Text()),
        sa.Column("tool_name", sa.Text()),
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_at", timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("api_key_id", "minute", "reason", "tool_name"),
    )
    op.create_index(
        "rejected_calls_user_minute_idx",
        "rejected_calls",
        [sa.text("user_id"), sa.text("minute DESC")],
    )

    op.create_table(
        "error_group_days",
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("day", sa.Date()),
        sa.Column("tool_name", sa.Text()),
        sa.Column("tool_version", sa.Text()),
        sa.Column("error_code", sa.Text()),
        sa.Column("fingerprint", sa.Text()),
        sa.Column("api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", ondelete="CASCADE")),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_at", timestamp(), nullable=False),
        sa.Column("last_at", timestamp(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("sample_log_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint(
            "user_id", "day", "tool_name", "tool_version", "error_code", "fingerprint", "api_key_id"
        ),
    )
    op.create_index("error_group_days_api_key_id_idx", "error_group_days", ["api_key_id"])

    if is_postgresql():
        # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX tool_logs_error_message_trgm_idx ON tool_logs "
            "USING gin (error_message gin_trgm_ops) WHERE status = 'error'"
        )
        # The code decides the status (422 is invalid_input): without this the planner
        # multiplies their selectivities and expects almost no row for code AND status.
        op.execute(
            "CREATE STATISTICS tool_logs_code_status_stats (dependencies) "
            "ON error_code, http_status FROM tool_logs"
        )


def downgrade():
    if is_postgresql():
        op.execute("DROP STATISTICS IF EXISTS tool_logs_code_status_stats")
        op.execute("DROP INDEX IF EXISTS tool_logs_error_message_trgm_idx")
    op.drop_index("error_group_days_api_key_id_idx", table_name="error_group_days")
    op.drop_table("error_group_days")
    op.drop_index("rejected_calls_user_minute_idx", table_name="rejected_calls")
    op.drop_table("rejected_calls")
    op.drop_index("tool_logs_user_code_created_idx", table_name="tool_logs")
    op.drop_index("tool_logs_user_group_created_idx", table_name="tool_logs")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would copy the table and
    # lose its DESC indexes, which SQLite cannot reflect.
    for column in ("source", "error_fingerprint", "errors", "http_status"):
        op.drop_column("tool_logs", column)
