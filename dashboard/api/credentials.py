"""Finding the key a request carries: one index seek on api_keys.key, cached for a few seconds.

The hot path sees plain rows (key columns plus the owner's plan and disabled flag), never ORM
objects (a typed KeyRow). A key revoked or changed in the dashboard is seen within
API_KEY_CACHE_SECONDS.
"""

import uuid
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from dashboard.api.connection import fetch_one
from dashboard.api.extension import gateway_state
from dashboard.keys.secrets import hash_secret
from dashboard.models import ApiKey, User

KEYS = ApiKey.__table__
USERS = User.__table__
_MISSING = object()


class KeyRow(NamedTuple):
    """What the hot path knows of a key: its columns and its owner's plan and disabled flag."""

    id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime | None
    is_active: bool
    revoked_at: datetime | None
    grace_ends_at: datetime | None
    rate_limit_per_minute: int
    allowed_tools: list[str] | None
    allowed_ips: list[str] | None
    subscription_plan: str
    is_disabled: bool


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
            USERS.c.subscription_plan,
            USERS.c.is_disabled,
        )
        .join(USERS, USERS.c.id == KEYS.c.user_id)
        .where(KEYS.c.key == key_hash)
    )


# Built once: each lookup only binds the hash (SQLAlchemy's compiled-statement cache does the rest).
KEY_LOOKUP = key_lookup_query(sa.bindparam("key_hash", type_=sa.Text))


def find_key(secret: str) -> KeyRow | None:
    """The key row for `secret` with its owner's plan and disabled flag, or None.

    Unknown secrets are cached too (as None), so a flood of made-up keys costs no queries; the
    cache holds at most 10,000 entries and drops the least recently used."""
    key_hash = hash_secret(secret)
    cache = gateway_state().keys
    key = cache.get(key_hash, _MISSING)
    if key is _MISSING:
        row = fetch_one(KEY_LOOKUP, {"key_hash": key_hash})
        key = KeyRow(*row) if row is not None else None
        cache.put(key_hash, key)
    return key
