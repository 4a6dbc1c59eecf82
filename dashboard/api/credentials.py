"""Finding the key a request carries: one index seek on api_keys.key, cached for a few seconds.

The hot path sees plain rows (key columns plus the owner's plan and disabled flag), never ORM
objects. Each row remembers when it was read (`loaded_at`): the gateway drops a cached row whose
key or account was changed after that (dashboard/api/revocation.py), so a key expired, rolled
past its grace, edited, or whose account was disabled, deleted or moved to another plan is seen
by the next call on every worker; API_KEY_CACHE_SECONDS bounds it when Redis is not there.
"""

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from dashboard.api.connection import fetch_one
from dashboard.keys.secrets import hash_secret
from dashboard.models import ApiKey, User

KEYS = ApiKey.__table__
USERS = User.__table__
CACHE_MAX_ENTRIES = 10_000  # unknown secrets are cached too; a flood of them only clears it
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
    subscription_plan: str
    is_disabled: bool
    loaded_at: float  # epoch seconds, taken before the read


class KeyCache:
    """A small in-process TTL cache: SHA-256 of a secret -> key row (or None for unknown)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.entries: dict[str, tuple[float, object]] = {}
        self.lock = threading.Lock()

    def get(self, key_hash: str):
        entry = self.entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return _MISSING
        return entry[1]

    def put(self, key_hash: str, row) -> None:
        if self.seconds <= 0:
            return
        with self.lock:
            if len(self.entries) >= CACHE_MAX_ENTRIES:
                self.entries.clear()
            self.entries[key_hash] = (time.monotonic() + self.seconds, row)

    def forget(self, key_hash: str) -> None:
        """Drop one entry (its key was changed since it was read)."""
        with self.lock:
            self.entries.pop(key_hash, None)

    def forget_matching(self, key_id=None, user_id=None) -> None:
        """Drop the entries of one key, or of every key of one account."""
        with self.lock:
            for key_hash, (_, row) in list(self.entries.items()):
                if row is not None and (row.id == key_id or row.user_id == user_id):
                    del self.entries[key_hash]


def key_cache() -> KeyCache:
    """This app's key cache, made on first use."""
    app = current_app._get_current_object()
    cache = app.extensions.get("api_key_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "api_key_cache", KeyCache(app.config["API_KEY_CACHE_SECONDS"])
        )
    return cache


def find_key(secret: str):
    """The key row for `secret` with its owner's plan and disabled flag, or None."""
    key_hash = hash_secret(secret)
    cache = key_cache()
    row = cache.get(key_hash)
    if row is _MISSING:
        row = read_key(key_hash)
        cache.put(key_hash, row)
    return row


def find_key_again(secret: str):
    """The key row read from the database now (the cached one was invalidated)."""
    key_hash = hash_secret(secret)
    row = read_key(key_hash)
    key_cache().put(key_hash, row)
    return row


def read_key(key_hash: str) -> KeyRow | None:
    """The key row from the database, stamped with the time just before the read."""
    loaded_at = time.time()
    row = fetch_one(KEY_LOOKUP, {"key_hash": key_hash})
    return None if row is None else KeyRow(**row._asdict(), loaded_at=loaded_at)
