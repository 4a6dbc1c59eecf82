"""SQL that differs between PostgreSQL and SQLite, for the statements both must run.

Its own module (not metering's) so that any package can use it without importing the hot path.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.extensions import db


def upsert(model):
    """INSERT ... ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def greatest(a, b):
    """The larger of two values: GREATEST, or SQLite's two-argument max()."""
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.func.max(a, b)
    return sa.func.greatest(a, b)


def least(a, b):
    """The smaller of two values: LEAST, or SQLite's two-argument min()."""
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.func.min(a, b)
    return sa.func.least(a, b)
