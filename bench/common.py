"""What the benchmarks share: a PostgreSQL database of their own, made and dropped here."""

import os
import time
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa
from flask_migrate import upgrade

from dashboard import create_app
from dashboard.config import TestConfig
from dashboard.extensions import db

POSTGRES_SERVER = os.environ.get(
    "BENCH_POSTGRES_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


@contextmanager
def bench_database(name: str, keep: bool = False):
    """A fresh database called `name` (dropped afterwards unless keep); yields its URL."""
    admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def progress(label: str, done: int, total: int, started: float) -> None:
    """One progress line, rewritten in place."""
    rate = done / max(time.perf_counter() - started, 1e-9)
    width = 30
    filled = int(width * done / max(total, 1))
    print(
        f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} ({rate:,.0f}/s)",
        end="" if done < total else "\n",
        flush=True,
    )


PSYCOPG_SERVER = os.environ.get("BENCH_PSYCOPG_SERVER", "postgresql://postgres@127.0.0.1:5432")


def admin(sql: str) -> None:
    """Run one statement on the server's `postgres` database (CREATE/DROP DATABASE)."""
    with psycopg.connect(f"{PSYCOPG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def make_app(url: str):
    """The real app on `url`, answering errors as in production."""
    config = TestConfig(url)
    config.TESTING = False
    return create_app(config)


def setup_database(name: str, url: str) -> None:
    """(Re)create the database `name` at `url` and run every migration."""
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    app = make_app(url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
