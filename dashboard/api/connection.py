"""The database connection of the API's hot path: one round trip a statement.

On PostgreSQL the hot path borrows ONE pooled psycopg connection per app context (a request),
in autocommit mode, and gives it back when the context ends. Each statement is then one round
trip (no BEGIN, no COMMIT, no transaction left open while the tool runs), with no SQLAlchemy
Session, Connection or Result objects in between: profiling showed them costing more CPU than
the statement itself. Whenever the session already has a transaction open (a caller with
pending work, a test) and on SQLite, the session is used instead, so that its writes and the
caller's stay in one transaction.
"""

from functools import cache

import sqlalchemy as sa
from flask import g
from psycopg.rows import namedtuple_row, tuple_row

from dashboard.extensions import db


def raw_cursor():
    """The context's cursor on an autocommit psycopg connection, or None when the session
    must be used. One cursor serves the whole context (psycopg copies its adapters into every
    new cursor)."""
    cursor = g.get("api_raw_cursor")
    if cursor is not None:
        return cursor
    # Look at the session only if this context made one (making one costs more than a query).
    if db.session.registry.has() and db.session().in_transaction():
        return None
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return None
    borrowed = engine.raw_connection()
    borrowed.dbapi_connection.autocommit = True
    g.api_raw_connection = borrowed
    g.api_raw_cursor = borrowed.dbapi_connection.cursor()
    return g.api_raw_cursor


def release_raw_connection(_error=None) -> None:
    """Give the borrowed connection back to the pool, as the pool lent it."""
    borrowed = g.pop("api_raw_connection", None)
    cursor = g.pop("api_raw_cursor", None)
    if borrowed is None:
        return
    try:
        cursor.close()
        if not borrowed.dbapi_connection.closed:
            borrowed.dbapi_connection.autocommit = False
    finally:
        borrowed.close()


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
