"""What the dashboard adds to the seed: passwords, key details, rollups, audit, indexes.

Revision ID: 0002_dashboard
Revises: 0001_seed_schema
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_dashboard"
down_revision = "0001_seed_schema"
branch_labels = None
depends_on = None

LATENCY_COLUMNS = (
    "latency_le_1",
    "latency_le_2",
    "latency_le_5",
    "latency_le_10",
    "latency_le_20",
    "latency_le_50",
    "latency_le_100",
    "latency_le_200",
    "latency_le_500",
    "latency_le_1000",
    "latency_le_5000",
    "latency_gt_5000",
)


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def timestamp():
    return postgresql.TIMESTAMP(precision=3) if is_postgresql() else sa.DateTime()


def json_type():
    return postgresql.JSONB() if is_postgresql() else sa.JSON()


def id_column(name: str = "id") -> sa.Column:
    default = sa.text("gen_random_uuid()") if is_postgresql() else None
    return sa.Column(name, sa.Uuid(), primary_key=True, server_default=default)


def created_at() -> sa.Column:
    return sa.Column(
        "created_at", timestamp(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
    )


def counter(name: str, type_=sa.Integer) -> sa.Column:
    return sa.Column(name, type_(), nullable=False, server_default="0")


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.Text()))
        batch.add_column(sa.Column("last_login_at", timestamp()))
        batch.add_column(
            sa.Column("is_disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("name", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("prefix", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("revoked_at", timestamp()))
        batch.add_column(sa.Column("allowed_tools", json_type()))
        batch.add_column(sa.Column("allowed_ips", json_type()))
        batch.add_column(sa.Column("replaced_by_id", sa.Uuid()))
        batch.add_column(sa.Column("grace_ends_at", timestamp()))
        batch.create_foreign_key(
            "api_keys_replaced_by_id_fkey",
            "api_keys",
            ["replaced_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("api_keys_user_id_created_at_idx", "api_keys", ["user_id", "created_at"])

    with op.batch_alter_table("tool_logs") as batch:
        batch.add_column(sa.Column("error_code", sa.Text()))
        batch.add_column(sa.Column("client_ip", sa.Text()))
    # Keyset pagination of the logs page, newest first, and its common filters.
    newest = [sa.text("created_at DESC"), sa.text("id DESC")]
    op.create_index("tool_logs_user_created_idx", "tool_logs", [sa.text("user_id"), *newest])
    op.create_index(
        "tool_logs_user_tool_created_idx",
        "tool_logs",
        [sa.text("user_id"), sa.text("tool_name"), *newest],
    )
    op.create_index(
        "tool_logs_user_status_created_idx",
        "tool_logs",
        [sa.text("user_id"), sa.text("status"), *newest],
    )
    op.create_index("tool_logs_key_created_idx", "tool_logs", [sa.text("api_key_id"), *newest])

    op.create_table(
        "super_admins",
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("added_by", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("notes", sa.Text()),
        created_at(),
    )

    op.create_table(
        "usage_daily",
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("day", sa.Date()),
        sa.Column("api_key_id", sa.Uuid(), sa.ForeignKey("api_keys.id", ondelete="CASCADE")),
        sa.Column("tool_name", sa.Text()),
        counter("calls"),
        counter("errors"),
        counter("tokens", sa.BigInteger),
        counter("execution_ms_total", sa.BigInteger),
        counter("rejected_rate_limit"),
        counter("rejected_quota"),
        *(counter(name) for name in LATENCY_COLUMNS),
        sa.PrimaryKeyConstraint("user_id", "day", "api_key_id", "tool_name"),
    )
    op.create_index("usage_daily_api_key_id_idx", "usage_daily", ["api_key_id"])

    op.create_table(
        "audit_events",
        id_column(),
        sa.Column("actor_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("actor_email", sa.Text()),
        sa.Column("subject_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("subject_email", sa.Text()),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("details", json_type()),
        sa.Column("ip", sa.Text()),
        created_at(),
    )
    op.create_index(
        "audit_events_subject_created_idx",
        "audit_events",
        [sa.text("subject_id"), sa.text("created_at DESC")],
    )
    op.create_index("audit_events_created_idx", "audit_events", [sa.text("created_at DESC")])
    # Last, because SQLite's batch mode cannot reflect an expression index.
    # Emails are unique whatever their case (the seed's index is case-sensitive).
    op.create_index("users_email_lower_key", "users", [sa.text("lower(email)")], unique=True)


def downgrade():
    op.drop_index("users_email_lower_key", table_name="users")
    op.drop_table("audit_events")
    op.drop_table("usage_daily")
    op.drop_table("super_admins")
    for name in (
        "tool_logs_key_created_idx",
        "tool_logs_user_status_created_idx",
        "tool_logs_user_tool_created_idx",
        "tool_logs_user_created_idx",
    ):
        op.drop_index(name, table_name="tool_logs")
    with op.batch_alter_table("tool_logs") as batch:
        batch.drop_column("client_ip")
        batch.drop_column("error_code")
    op.drop_index("api_keys_user_id_created_at_idx", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("api_keys_replaced_by_id_fkey", type_="foreignkey")
        for column in (
            "grace_ends_at",
            "replaced_by_id",
            "allowed_ips",
            "allowed_tools",
            "revoked_at",
            "prefix",
            "name",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_disabled")
        batch.drop_column("last_login_at")
        batch.drop_column("password_hash")
