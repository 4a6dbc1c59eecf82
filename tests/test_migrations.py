"""The migrations: revision one is the seed's schema, and every revision goes up and down."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, stamp, upgrade

from dashboard import create_app
from dashboard.auth.service import create_user
from dashboard.config import TestConfig
from dashboard.extensions import db

PRISMA_SQL = Path(__file__).parent / "data" / "prisma_migration.sql"

# The seed (schema.prisma) column by column, as Prisma creates it on PostgreSQL:
# (type, nullable, default).
SEED_COLUMNS = {
    "users": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "email": ("text", False, None),
        "created_at": ("timestamp(3) without time zone", False, "CURRENT_TIMESTAMP"),
        "subscription_plan": ("text", False, "'free'::text"),
        "role": ("text", False, "'user'::text"),
    },
    "api_keys": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "user_id": ("uuid", False, None),
        "key": ("text", False, None),
        "created_at": ("timestamp(3) without time zone", False, "CURRENT_TIMESTAMP"),
        "expires_at": ("timestamp(3) without time zone", True, None),
        "is_active": ("boolean", False, "true"),
        "rate_limit_per_minute": ("integer", False, "100"),
        "last_request_at": ("timestamp(3) without time zone", True, None),
    },
    "tool_logs": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "user_id": ("uuid", False, None),
        "api_key_id": ("uuid", False, None),
        "tool_name": ("text", False, None),
        "tool_version": ("text", False, "'v1'::text"),
        "input_payload": ("jsonb", True, None),
        "output_payload": ("jsonb", True, None),
        "created_at": ("timestamp(3) without time zone", False, "CURRENT_TIMESTAMP"),
        "status": ("text", False, "'success'::text"),
        "execution_time_ms": ("integer", True, None),
        "tokens_used": ("integer", True, None),
        "error_message": ("text", True, None),
    },
    "usage_summaries": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "user_id": ("uuid", False, None),
        "month_year": ("text", False, None),
        "total_calls": ("integer", False, "0"),
        "total_tokens": ("integer", False, "0"),
        "created_at": ("timestamp(3) without time zone", False, "CURRENT_TIMESTAMP"),
    },
    "tools": {
        "id": ("uuid", False, "gen_random_uuid()"),
        "name": ("text", False, None),
        "description": ("text", True, None),
        "version": ("text", False, "'v1'::text"),
        "is_active": ("boolean", False, "true"),
        "endpoint_path": ("text", False, None),
        "created_at": ("timestamp(3) without time zone", False, "CURRENT_TIMESTAMP"),
    },
}
SEED_UNIQUE = {
    ("users", ("email",)),
    ("api_keys", ("key",)),
    ("usage_summaries", ("user_id", "month_year")),
    ("tools", ("name", "version")),
}
# (table, column) -> (referenced table, on delete)
SEED_FOREIGN_KEYS = {
    ("api_keys", "user_id"): ("users", "CASCADE"),
    ("tool_logs", "user_id"): ("users", "CASCADE"),
    ("tool_logs", "api_key_id"): ("api_keys", "CASCADE"),
    ("usage_summaries", "user_id"): ("users", "CASCADE"),
}
DASHBOARD_TABLES = {
    "super_admins",
    "usage_daily",
    "audit_events",
    "account_security",
    "organisations",
    "memberships",
    "invitations",
    "account_settings",
    "portal_settings",
}


@pytest.fixture
def fresh_app(backend, databases):
    """An app on a new, empty database (no migrations run)."""
    app = create_app(TestConfig(databases.create(backend)))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def columns_of(table: str) -> dict:
    rows = db.session.execute(
        sa.text(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
            """
        ),
        {"table": table},
    )
    return {name: (type_, nullable, default) for name, type_, nullable, default in rows}


def unique_indexes() -> set:
    inspector = sa.inspect(db.engine)
    found = set()
    for table in SEED_COLUMNS:
        for index in inspector.get_indexes(table):
            if index["unique"] and all(index["column_names"]):
                found.add((table, tuple(index["column_names"])))
    return found


def foreign_keys() -> dict:
    inspector = sa.inspect(db.engine)
    found = {}
    for table in SEED_COLUMNS:
        for fk in inspector.get_foreign_keys(table):
            (column,) = fk["constrained_columns"]
            found[(table, column)] = (fk["referred_table"], fk["options"].get("ondelete"))
    return found


@pytest.mark.parametrize("backend", ["postgresql"])
def test_revision_one_is_exactly_the_seed_schema(fresh_app):
    upgrade(revision="0001_seed_schema")
    tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set(SEED_COLUMNS)
    for table, expected in SEED_COLUMNS.items():
        assert columns_of(table) == expected, table
    assert unique_indexes() == SEED_UNIQUE
    assert foreign_keys() == SEED_FOREIGN_KEYS


@pytest.mark.parametrize("backend", ["postgresql"])
def test_head_keeps_every_seed_column_and_adds_the_dashboard_tables(fresh_app):
    upgrade()
    for table, expected in SEED_COLUMNS.items():
        columns = columns_of(table)
        assert {name: columns[name] for name in expected} == expected, table
    assert SEED_UNIQUE <= unique_indexes()
    assert foreign_keys().items() >= SEED_FOREIGN_KEYS.items()
    assert DASHBOARD_TABLES <= set(sa.inspect(db.engine).get_table_names())


def test_upgrade_downgrade_to_base_and_up_again(fresh_app):
    upgrade()
    create_user("before@example.com", "a long password")
    downgrade(revision="base")
    assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert DASHBOARD_TABLES <= set(sa.inspect(db.engine).get_table_names())
    create_user("after@example.com", "a long password")


def test_downgrade_one_step_keeps_seed_data(fresh_app):
    upgrade()
    user = create_user("kept@example.com", "a long password")
    user_id = user.id
    db.session.remove()
    downgrade(revision="0001_seed_schema")
    email = db.session.execute(
        sa.text("SELECT email FROM users WHERE id = :id"),
        {"id": user_id.hex if db.engine.dialect.name == "sqlite" else user_id},
    ).scalar_one()
    assert email == "kept@example.com"
    db.session.remove()
    upgrade()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_database_made_by_prisma_is_adopted_by_stamp_then_upgrade(fresh_app):
    with db.engine.begin() as connection:
        connection.exec_driver_sql(PRISMA_SQL.read_text())
        connection.exec_driver_sql(
            "INSERT INTO users (email) VALUES ('prisma-user@example.com');"
            "INSERT INTO api_keys (user_id, key) SELECT id, 'abc' FROM users;"
        )
    stamp(revision="0001_seed_schema")
    upgrade()
    row = db.session.execute(sa.text("SELECT email, password_hash, is_disabled FROM users")).one()
    assert row == ("prisma-user@example.com", None, False)
    key = db.session.execute(sa.text("SELECT name, prefix, revoked_at FROM api_keys")).one()
    assert key == ("", "", None)
    # The dashboard works on top: a new account with a password next to Prisma's row.
    create_user("new@example.com", "a long password")
    assert db.session.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 2


@pytest.mark.parametrize("backend", ["postgresql"])
def test_emails_are_unique_whatever_their_case_in_the_database(fresh_app):
    upgrade()
    db.session.execute(sa.text("INSERT INTO users (email) VALUES ('Case@example.com')"))
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("INSERT INTO users (email) VALUES ('case@EXAMPLE.com')"))
        db.session.commit()
    db.session.rollback()
