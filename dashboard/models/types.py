"""Column types that are portable between SQLite and the PostgreSQL types Prisma uses."""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# TIMESTAMP(3) WITHOUT TIME ZONE holding UTC on PostgreSQL, as Prisma creates it.
Timestamp = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
# JSONB on PostgreSQL, JSON text on SQLite.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Native UUID on PostgreSQL, 32 hex characters on SQLite.
Uuid = sa.Uuid(as_uuid=True)


def utcnow() -> datetime:
    """The current time in UTC, naive, as every timestamp column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> uuid.UUID:
    """A random UUID for a new row (PostgreSQL would use gen_random_uuid())."""
    return uuid.uuid4()


def parse_uuid(value: object) -> uuid.UUID | None:
    """`value` as a UUID (from a URL, a form, the session), or None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
