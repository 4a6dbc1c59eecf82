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
from psycopg.rows import namedtuple_row

from dashboard.extensions import db


def raw_connection():
    """The context's autocommit psycopg connection, or None when the session must be used."""
    borrowed = g.get("api_raw_connection")
    if borrowed is not None:
        return borrowed.dbapi_connection
    session = db.session()
    if session.in_transaction():
        return None
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return None
    borrowed = engine.raw_connection()
    borrowed.dbapi_connection.autocommit = True
    g.api_raw_connection = borrowed
    return borrowed.dbapi_connection


def release_raw_connection(_error=None) -> None:
    """Give the borrowed connection back to the pool, as the pool lent it."""
    borrowed = g.pop("api_raw_connection", None)
    if borrowed is None:
        return
    try:
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
    connection = raw_connection()
    if connection is None:
        return db.session.execute(query, params).first()
    with connection.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(postgresql_sql(query), params)
        return cursor.fetchone()


def write_returning_one(sql: str, params: dict):
    """Run a PostgreSQL write that answers one value, committed before this returns."""
    connection = raw_connection()
    if connection is None:
        value = db.session.connection().exec_driver_sql(sql, params).scalar_one()
        db.session.commit()
        return value
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
