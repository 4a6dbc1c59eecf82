"""What the benchmarks share: a PostgreSQL database of their own, made and dropped here."""

import os
import time
from contextlib import contextmanager

import sqlalchemy as sa

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
