"""Finding the key a request carries: one index seek on api_keys.key, cached for a few seconds.

The hot path sees plain rows (key columns plus the owner's plan and disabled flag), never ORM
objects. Each row remembers when it was read (`loaded_at`): the gateway drops a cached row whose
key or account was changed after that (dashboard/api/revocation.py), so a key expired, rolled
past its grace, edited, or whose account was disabled, deleted or moved to another plan is seen
by the next call on every worker; API_KEY_CACHE_SECONDS bounds it when Redis is not there.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from dashboard.api.connection import fetch_one
from dashboard.api.extension import gateway_state
from dashboard.keys.secrets import hash_secret
from dashboard.models import ApiKey, User

KEYS = ApiKey.__table__
USERS = User.__table__
_MISSING = object()


def secret_from_headers(headers) -> str | None:
    """The secret from `Authorization: Bearer <key>`, else from `X-API-Key`; None if neither."""
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = headers.get("X-API-Key", "").strip()
    return api_key or None


def key_lookup_query(key_hash) -> sa.Select:
    """The key row and its owner's plan: an index seek on api_keys_key_key."""
    return (
        sa.select(
            KEYS.c.id,
            KEYS.c.user_id,
            KEYS.c.expires_at,
            KEYS.c.is_active,
            KEYS.c.revoked_at,
            KEYS.c.grace_ends_at,
            KEYS.c.rate_limit_per_minute,
            KEYS.c.allowed_tools,
            KEYS.c.allowed_ips,
            KEYS.c.monthly_call_cap,
            KEYS.c.is_test,
            USERS.c.subscription_plan,
            USERS.c.is_disabled,
        )
        .join(USERS, USERS.c.id == KEYS.c.user_id)
        .where(KEYS.c.key == key_hash)
    )


# Built once: each lookup only binds the hash (SQLAlchemy's compiled-statement cache does the rest).
KEY_LOOKUP = key_lookup_query(sa.bindparam("key_hash", type_=sa.Text))


@dataclass(frozen=True)
class KeyRow:
    """A key row as the gateway uses it, and when it was read from the database."""

    id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime | None
    is_active: bool
    revoked_at: datetime | None
    grace_ends_at: datetime | None
    rate_limit_per_minute: int
    allowed_tools: list | None
    allowed_ips: list | None
    monthly_call_cap: int | None  # the key's own calls a month; None: the account's quota only
    is_test: bool  # a test-mode key: not billed, not counted against the account's quota
    subscription_plan: str
    is_disabled: bool
    loaded_at: float  # epoch seconds, taken before the read


def find_key(secret: str) -> "KeyRow | None":
    """The key row for `secret` with its owner's plan and disabled flag, or None.

    Unknown secrets are cached too (as None), so a flood of made-up keys costs no queries; the
    cache holds at most 10,000 entries and drops the least recently used."""
    key_hash = hash_secret(secret)
    cache = gateway_state().keys
    row = cache.get(key_hash, _MISSING)
    if row is _MISSING:
        row = read_key(key_hash)
        cache.put(key_hash, row)
    return row


def find_key_again(secret: str):
    """The key row read from the database now (the cached one was invalidated)."""
    key_hash = hash_secret(secret)
    row = read_key(key_hash)
    gateway_state().keys.put(key_hash, row)
    return row


def read_key(key_hash: str) -> KeyRow | None:
    """The key row from the database, stamped with the time just before the read."""
    loaded_at = time.time()
    row = fetch_one(KEY_LOOKUP, {"key_hash": key_hash})
    return None if row is None else KeyRow(**row._asdict(), loaded_at=loaded_at)
