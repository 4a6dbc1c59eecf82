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
# The deepest nesting a Json value may have (a call's input and output alike).
MAX_DEPTH = 64


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


def unstorable(value) -> str | None:
    """Why `value` cannot be stored as JSON on both databases, or None."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"The body is nested more than {MAX_DEPTH} levels deep."
        if isinstance(item, dict):
            for name, child in item.items():
                problem = _text_problem(name)
                if problem:
                    return problem
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1))
                elif isinstance(child, str) and (problem := _text_problem(child)):
                    return problem
        elif isinstance(item, list):
            for child in item:
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1))
                elif isinstance(child, str) and (problem := _text_problem(child)):
                    return problem
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "JSON strings may not contain \\u0000 (NUL)."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "JSON strings may not contain lone surrogates (\\ud800-\\udfff)."
    return None
