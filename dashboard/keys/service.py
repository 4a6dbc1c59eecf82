"""Keys: creating them and reading a user's keys."""

import uuid
from datetime import datetime

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.secrets import display_prefix, hash_secret, new_secret
from dashboard.models import ApiKey, User


def create_key(
    user: User,
    name: str,
    *,
    rate_limit_per_minute: int = 100,
    expires_at: datetime | None = None,
    allowed_tools: list[str] | None = None,
    allowed_ips: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """A new key for `user` and its secret, which is not stored and cannot be shown again."""
    secret = new_secret()
    key = ApiKey(
        user_id=user.id,
        name=name,
        key=hash_secret(secret),
        prefix=display_prefix(secret),
        rate_limit_per_minute=rate_limit_per_minute,
        expires_at=expires_at,
        allowed_tools=allowed_tools,
        allowed_ips=allowed_ips,
    )
    db.session.add(key)
    db.session.commit()
    return key, secret


def keys_of(user: User) -> list[ApiKey]:
    """The user's keys, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiKey)
            .where(ApiKey.user_id == user.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        )
    )


def key_of(user: User, key_id: str | uuid.UUID) -> ApiKey | None:
    """The user's key with this id; None for someone else's key or a malformed id."""
    try:
        key_uuid = key_id if isinstance(key_id, uuid.UUID) else uuid.UUID(str(key_id))
    except ValueError:
        return None
    return db.session.scalar(
        sa.select(ApiKey).where(ApiKey.id == key_uuid, ApiKey.user_id == user.id)
    )
