"""How long the management API keeps idempotent answers, and how many a root key may hold.

An answer kept for an `Idempotency-Key` (dashboard/api/management.py `idempotent`) is kept
IDEMPOTENCY_KEEP_HOURS, then purged by an hourly job (`flask keys purge-idempotency` runs it by
hand). Within that window a root key may hold IDEMPOTENCY_KEYS_MAX of them: past it a write
with a new Idempotency-Key is refused (429 `idempotency_keys_exhausted`) rather than the oldest
answers dropped, since a dropped answer would let a late retry make a second key.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.extensions import db
from dashboard.models import IdempotentRequest, utcnow


def kept_since(now: datetime | None = None) -> datetime:
    """The oldest created_at still inside the window (IDEMPOTENCY_KEEP_HOURS)."""
    return (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_KEEP_HOURS"])


def purge_idempotent_requests(batch_size: int = 10_000, now: datetime | None = None) -> int:
    """Delete answers older than the window, in batches; rows deleted."""
    cutoff = kept_since(now)
    deleted = 0
    while True:
        batch = (
            sa.select(IdempotentRequest.root_key_id, IdempotentRequest.idempotency_key)
            .where(IdempotentRequest.created_at < cutoff)
            .limit(batch_size)
        )
        result = db.session.execute(
            sa.delete(IdempotentRequest).where(
                sa.tuple_(IdempotentRequest.root_key_id, IdempotentRequest.idempotency_key).in_(
                    batch
                )
            )
        )
        db.session.commit()
        deleted += result.rowcount
        if result.rowcount < batch_size:
            return deleted


def keys_exhausted(root_key_id, now: datetime | None = None) -> bool:
    """Whether the root key already holds IDEMPOTENCY_KEYS_MAX answers in the window (a count
    that stops at the cap, so it costs at most that many index entries)."""
    cap = current_app.config["IDEMPOTENCY_KEYS_MAX"]
    held = (
        sa.select(sa.literal(1))
        .where(
            IdempotentRequest.root_key_id == root_key_id,
            IdempotentRequest.created_at >= kept_since(now),
        )
        .limit(cap)
        .subquery()
    )
    return db.session.scalar(sa.select(sa.func.count()).select_from(held)) >= cap


def seconds_until_one_frees(root_key_id, now: datetime | None = None) -> int:
    """Seconds until the root key's oldest answer in the window leaves it (at least 1)."""
    now = now or utcnow()
    oldest = db.session.scalar(
        sa.select(sa.func.min(IdempotentRequest.created_at)).where(
            IdempotentRequest.root_key_id == root_key_id,
            IdempotentRequest.created_at >= kept_since(now),
        )
    )
    if oldest is None:
        return 1
    frees_at = oldest + timedelta(hours=current_app.config["IDEMPOTENCY_KEEP_HOURS"])
    return max(1, int((frees_at - now).total_seconds()) + 1)
