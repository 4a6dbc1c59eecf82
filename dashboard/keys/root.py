"""Root keys: an account's secrets for the management API (`tk_root_…`).

A root key manages the account's API keys and reads its usage, by the scopes chosen when it
was made; it never calls a tool, and an API key never manages (their secrets differ by prefix,
and they live in different tables, so no lookup of one can find the other). Made on the
dashboard by an owner or admin, shown once, kept as its SHA-256; every use is audited.
"""

import secrets
import uuid
from datetime import datetime

import sqlalchemy as sa

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.keys.rules import parse_ip_list
from dashboard.keys.secrets import checksummed, hash_secret
from dashboard.models import RootKey, User, utcnow
from dashboard.models.types import parse_uuid

ROOT_PREFIX = "tk_root_"
ROOT_DISPLAY_LENGTH = len(ROOT_PREFIX) + 6
NAME_MAX = 80
# What a root key may do; each management route needs one.
SCOPES = {
    "keys:read": "List and read API keys.",
    "keys:write": "Create, change, roll and expire API keys.",
    "usage:read": "Read usage by month, day and tool.",
    "logs:read": "List logged calls and error groups.",
    "webhooks:read": "List and read webhook endpoints.",
    "webhooks:write": "Add, change, disable and delete webhook endpoints.",
}
ROOT_KEYS_MAX = 20  # working root keys an account may hold


class RootKeyRefused(Exception):
    """The root key cannot be made as asked; the message says why."""


def is_root_secret(secret: str | None) -> bool:
    return bool(secret) and secret.startswith(ROOT_PREFIX)


def root_keys_of(account: User) -> list[RootKey]:
    """The account's root keys, newest first (revoked ones too, marked)."""
    return list(
        db.session.scalars(
            sa.select(RootKey)
            .where(RootKey.account_id == account.id)
            .order_by(RootKey.created_at.desc(), RootKey.id.desc())
        )
    )


def root_key_of(account: User, root_key_id: str | uuid.UUID) -> RootKey | None:
    """The account's root key with this id, or None (another account's is None too)."""
    key_id = parse_uuid(str(root_key_id))
    if key_id is None:
        return None
    return db.session.scalar(
        sa.select(RootKey).where(RootKey.id == key_id, RootKey.account_id == account.id)
    )


def working(root_key: RootKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    expired = root_key.expires_at is not None and root_key.expires_at <= now
    return root_key.revoked_at is None and not expired


def clean_ips(values: list[str]) -> list[str] | None:
    """IPs and networks in CIDR form, or RootKeyRefused naming the bad ones."""
    entries, invalid = parse_ip_list(" ".join(values))
    if invalid:
        raise RootKeyRefused("Not an IP address or CIDR range: " + ", ".join(invalid[:10]))
    return entries or None


def create_root_key(
    account: User,
    actor: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
) -> tuple[RootKey, str]:
    """A new root key and its secret (shown once)."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        raise RootKeyRefused(f"Give the root key a name of 1 to {NAME_MAX} characters.")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        raise RootKeyRefused("Choose at least one scope from the list.")
    if expires_at is not None and expires_at <= utcnow():
        raise RootKeyRefused("Choose an expiry in the future.")
    held = sum(1 for key in root_keys_of(account) if working(key))
    if held >= ROOT_KEYS_MAX:
        raise RootKeyRefused(
            f"An account holds at most {ROOT_KEYS_MAX} working root keys: revoke one first."
        )
    secret = checksummed(ROOT_PREFIX, secrets.token_urlsafe(32))
    root_key = RootKey(
        account_id=account.id,
        name=name,
        key_hash=hash_secret(secret),
        prefix=secret[:ROOT_DISPLAY_LENGTH],
        scopes=sorted(set(scopes)),
        allowed_ips=clean_ips(allowed_ips or []),
        expires_at=expires_at,
        created_by_id=actor.id,
    )
    db.session.add(root_key)
    db.session.flush()
    record_event(
        "root_key.create",
        actor=actor,
        subject=account,
        details={"root_key_id": str(root_key.id), "name": name, "scopes": root_key.scopes},
        commit=False,
    )
    db.session.commit()
    return root_key, secret


def revoke_root_key(root_key: RootKey, actor: User, account: User) -> None:
    """Stop a root key now: the next request with it is refused (it is read on every use)."""
    if root_key.revoked_at is None:
        root_key.revoked_at = utcnow()
        record_event(
            "root_key.revoke",
            actor=actor,
            subject=account,
            details={"root_key_id": str(root_key.id), "name": root_key.name},
            commit=False,
        )
    db.session.commit()


def find_root_key(secret: str) -> RootKey | None:
    """The root key of this secret (an index seek on root_keys.key_hash), or None."""
    return db.session.scalar(sa.select(RootKey).where(RootKey.key_hash == hash_secret(secret)))
