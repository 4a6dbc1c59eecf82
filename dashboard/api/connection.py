"""The database connection of the API's hot path: one round trip a statement.

On PostgreSQL the hot path borrows ONE pooled psycopg connection per app context (a request),
in autocommit mode. Each statement is then one round trip (no BEGIN, no COMMIT, no transaction
left open while the tool runs), with no SQLAlchemy Session, Connection or Result objects in
between: profiling showed them costing more CPU than the statement itself.

Between requests the thread keeps the connection for up to API_CONNECTION_KEEP_SECONDS
(default 1 s; 0 gives it back after every request). A connection used that recently is not
pinged again: the pool's pre-ping is a round trip, a third of a tool call's. A connection idle
for longer goes back to the pool and the next one is pinged on checkout, as everywhere else;
if PostgreSQL restarts while a worker is busy, that worker's next call fails once (503) and
the broken connection is discarded.

Only the API app (which has the Gateway extension) borrows connections. Elsewhere, whenever
the session already has a transaction open (a caller with pending work, a test) and on SQLite,
the session is used instead, so that its writes and the caller's stay in one
transaction.
"""

import threading
import time
from functools import cache

import sqlalchemy as sa
from flask import current_app, g
from psycopg.rows import namedtuple_row, tuple_row

from dashboard.extensions import db


class Borrowed:
    """A pooled connection lent to the hot path, its one cursor, and when it was last used."""

    def __init__(self, fairy) -> None:
        self.fairy = fairy
        fairy.dbapi_connection.autocommit = True
        self.cursor = fairy.dbapi_connection.cursor()
        self.last_used = time.monotonic()

    def usable(self, keep_seconds: float) -> bool:
        connection = self.fairy.dbapi_connection
        fresh = time.monotonic() - self.last_used <= keep_seconds
        return fresh and not connection.closed and not connection.broken

    def give_back(self) -> None:
        """Back to the pool, as the pool lent it (the pool discards a broken one)."""
        try:
            self.cursor.close()
            if not self.fairy.dbapi_connection.closed:
                self.fairy.dbapi_connection.autocommit = False
        finally:
            self.fairy.close()


def kept_connections() -> threading.local:
    """The API app's connections kept between requests, one per thread (Gateway state)."""
    return current_app.extensions["gateway"].kept_connections


def raw_cursor():
    """The context's cursor on an autocommit psycopg connection, or None when the session
    must be used. One cursor serves the whole context (psycopg copies its adapters into every
    new cursor)."""
    borrowed = g.get("api_borrowed")
    if borrowed is not None:
        return borrowed.cursor
    if "gateway" not in current_app.extensions:
        return None  # the dashboard app (pages, commands): its session, its transaction
    # Look at the session only if this context made one (making one costs more than a query).
    if db.session.registry.has() and db.session().in_transaction():
        return None
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return None
    kept = kept_connections()
    borrowed = getattr(kept, "borrowed", None)
    kept.borrowed = None
    if borrowed is not None and not borrowed.usable(
        current_app.config["API_CONNECTION_KEEP_SECONDS"]
    ):
        borrowed.give_back()
        borrowed = None
    if borrowed is None:
        borrowed = Borrowed(engine.raw_connection())  # the pool pings it (pool_pre_ping)
    g.api_borrowed = borrowed
    return borrowed.cursor


def give_back_before_waiting() -> None:
    """Return this context's connection to the pool now, before a long wait on the network
    (an upstream tool): a waiting thread must not hold one. A later query borrows again."""
    borrowed = g.pop("api_borrowed", None)
    if borrowed is not None:
        borrowed.give_back()


def release_raw_connection(error=None) -> None:
    """At the end of a context: keep the connection for this thread's next request (no pool
    checkout, no ping) if API_CONNECTION_KEEP_SECONDS allows, else give it back."""
    borrowed = g.pop("api_borrowed", None)
    if borrowed is None:
        return
    if error is None and current_app.config["API_CONNECTION_KEEP_SECONDS"] > 0:
        borrowed.last_used = time.monotonic()
        kept = kept_connections()
        previous = getattr(kept, "borrowed", None)
        kept.borrowed = borrowed
        if previous is not None:
            previous.give_back()
        return
    borrowed.give_back()


def give_back_kept_connection() -> None:
    """Return this thread's kept connection to the pool (before disposing of the engine)."""
    kept = kept_connections()
    borrowed = getattr(kept, "borrowed", None)
    kept.borrowed = None
    if borrowed is not None:
        borrowed.give_back()


@cache
def postgresql_sql(query: sa.Executable) -> str:
    """The PostgreSQL text of a Core statement built once (its bind names stay as they are)."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    return str(query.compile(dialect=dialect()))


def fetch_one(query: sa.Executable, params: dict):
    """The first row of `query` (attributes by column name), or None."""
    cursor = raw_cursor()
    if cursor is None:
        return db.session.execute(query, params).first()
    cursor.row_factory = namedtuple_row
    cursor.execute(postgresql_sql(query), params)
    return cursor.fetchone()


def write_returning_one(sql: str, params: dict):
    """Run a PostgreSQL write that answers one value, committed before this returns."""
    cursor = raw_cursor()
    if cursor is None:
        value = db.session.connection().exec_driver_sql(sql, params).scalar_one()
        db.session.commit()
        return value
    cursor.row_factory = tuple_row
    cursor.execute(sql, params)
    return cursor.fetchone()[0]
