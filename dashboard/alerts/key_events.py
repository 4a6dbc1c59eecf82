"""Key lifecycle events: a key created, rolled, expired, deleted or at its own monthly cap, and
who did it.

The keys service (dashboard/keys/service.py) raises `key.created`, `key.rolled`, `key.expired`
and `key.deleted` from the one function that makes each change, once the change is committed,
with the actor its caller names: the dashboard's pages pass the person (or the support person
viewing as the customer), the management API passes `Actor.root_key(...)`. A key that reaches
its expiry date is found by `check_expired_keys` (a periodic job) with the system as actor.
`key_quota_reached` is for the feature that caps a key's calls to call.

Each event is recorded once per key (alert_events' unique (account, dedupe key)), listed on the
Alerts page, sent to the webhook endpoints that subscribe to it (alerts' `alert_raised` signal),
and emailed only when it is in KEY_EVENTS_EMAILED and the account wants alert email. The
playground's short-lived keys raise none.

Every body's `data` starts with {"key": {"id", "prefix", "name"},
"actor": {"type": "member" | "support" | "root_key" | "system", "id", "email" or "name"}}.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from dashboard.alerts.events import KEY_EVENTS_EMAILED, iso_z
from dashboard.alerts.service import raise_alert
from dashboard.extensions import db
from dashboard.models import AlertEvent, ApiKey, RootKey, User, utcnow

ACTOR_TYPES = ("member", "support", "root_key", "system")
# How far back the periodic check looks for keys that reached their expiry date: a worker that
# was down for less than this still raises them (each once).
EXPIRED_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class Actor:
    """Who changed a key: a person acting on the account (`member`), support staff viewing as
    the customer, a root key of the management API, or Toolbox itself (`system`)."""

    type: str
    id: str | None
    email: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ACTOR_TYPES:
            raise ValueError(f"Unknown actor type {self.type!r}")

    @classmethod
    def member(cls, person: User) -> "Actor":
        return cls("member", str(person.id), email=person.email)

    @classmethod
    def support(cls, person: User) -> "Actor":
        return cls("support", str(person.id), email=person.email)

    @classmethod
    def root_key(cls, root_key: RootKey) -> "Actor":
        return cls("root_key", str(root_key.id), name=root_key.name)

    def as_data(self) -> dict:
        """The body's `actor`: a person with their email, a root key or the system by name."""
        if self.email is not None:
            return {"type": self.type, "id": self.id, "email": self.email}
        return {"type": self.type, "id": self.id, "name": self.name}


SYSTEM = Actor("system", None, name="Toolbox")


def key_ref(key) -> dict:
    """How a key event names a key (never its secret or hash)."""
    return {"id": str(key.id), "prefix": key.prefix, "name": key.name}


def _optional_time(moment: datetime | None) -> str | None:
    return iso_z(moment) if moment is not None else None


# The bodies' data, one function per event.


def created_data(key: ApiKey, actor: Actor) -> dict:
    return {
        "key": key_ref(key),
        "actor": actor.as_data(),
        "expires_at": _optional_time(key.expires_at),
    }


def rolled_data(key: ApiKey, successor: ApiKey, actor: Actor) -> dict:
    """`key` is the rolled key; it works until `grace_ends_at` beside `successor`."""
    return {
        "key": key_ref(key),
        "actor": actor.as_data(),
        "successor": key_ref(successor),
        "grace_ends_at": _optional_time(key.grace_ends_at),
    }


def expired_data(key: ApiKey, actor: Actor, reason: str, expired_at: datetime) -> dict:
    """reason: `expired_now` (a person, support or a root key stopped it) or `expiry_date`."""
    return {
        "key": key_ref(key),
        "actor": actor.as_data(),
        "reason": reason,
        "expired_at": iso_z(expired_at),
    }


def deleted_data(key: ApiKey, actor: Actor, deleted_at: datetime) -> dict:
    return {"key": key_ref(key), "actor": actor.as_data(), "deleted_at": iso_z(deleted_at)}


def quota_reached_data(key: ApiKey, month: str, cap: int) -> dict:
    return {"key": key_ref(key), "actor": SYSTEM.as_data(), "month": month, "cap": cap}


# Raising them.


def raise_key_event(
    account_id: uuid.UUID, event_type: str, key: ApiKey, data: dict, once_per: str = ""
) -> bool:
    """Record and send a key event once per key (and `once_per`, e.g. a month); False when it
    was raised before or the key is the playground's."""
    if key.is_playground:
        return False
    dedupe_key = f"{event_type}:{key.id}{':' + once_per if once_per else ''}"
    return raise_alert(
        account_id, event_type, dedupe_key, data, email=event_type in KEY_EVENTS_EMAILED
    )


def key_created(key: ApiKey, actor: Actor) -> bool:
    """`key.created`, raised by the keys service once the key is stored."""
    return raise_key_event(key.user_id, "key.created", key, created_data(key, actor))


def key_rolled(key: ApiKey, successor: ApiKey, actor: Actor) -> bool:
    """`key.rolled` for the rolled key, naming its successor."""
    return raise_key_event(key.user_id, "key.rolled", key, rolled_data(key, successor, actor))


def key_expired(key: ApiKey, actor: Actor) -> bool:
    """`key.expired` for a key stopped now (its revoked_at)."""
    data = expired_data(key, actor, "expired_now", key.revoked_at or utcnow())
    return raise_key_event(key.user_id, "key.expired", key, data)


def key_deleted(key: ApiKey, actor: Actor, deleted_at: datetime | None = None) -> bool:
    """`key.deleted`, raised by the keys service once the deletion is committed (the row stays,
    marked deleted_at, so the event names the key)."""
    data = deleted_data(key, actor, deleted_at or utcnow())
    return raise_key_event(key.user_id, "key.deleted", key, data)


def key_quota_reached(account_id: uuid.UUID, key, month: str, cap: int) -> bool:
    """`key.quota_reached`: the key (an ApiKey or its id) made the `cap` calls its own monthly
    cap allows in `month` (`YYYY-MM`). Once per key, month and cap; emailed when the account
    wants alert email. Call it from a job (as alerts/quota.py queues the account's quota
    alert), not on the hot path."""
    if not isinstance(key, ApiKey):
        key = db.session.get(ApiKey, uuid.UUID(str(key)))
        if key is None:  # deleted since
            return False
    data = quota_reached_data(key, month, cap)
    return raise_key_event(account_id, "key.quota_reached", key, data, f"{month}:{cap}")


def check_expired_keys(now: datetime | None = None) -> int:
    """Raise `key.expired` (actor: the system) for keys that reached their expiry date within
    EXPIRED_LOOKBACK while still working: not expired by someone before, not a rolled key whose
    grace period had already ended. How many were raised."""
    now = now or utcnow()
    query = sa.select(ApiKey).where(
        ApiKey.is_playground.is_(False),
        ApiKey.is_active.is_(True),
        ApiKey.revoked_at.is_(None),
        ApiKey.expires_at > now - EXPIRED_LOOKBACK,
        ApiKey.expires_at <= now,
        sa.or_(ApiKey.grace_ends_at.is_(None), ApiKey.grace_ends_at > ApiKey.expires_at),
    )
    keys = list(db.session.scalars(query))
    # Skip the keys already raised in one query, rather than an insert attempt each run.
    wanted = {f"key.expired:{key.id}": key for key in keys}
    raised_before = set(
        db.session.scalars(
            sa.select(AlertEvent.dedupe_key).where(AlertEvent.dedupe_key.in_(list(wanted)))
        )
    )
    raised = 0
    for dedupe_key, key in wanted.items():
        if dedupe_key in raised_before:
            continue
        data = expired_data(key, SYSTEM, "expiry_date", key.expires_at)
        raised += raise_key_event(key.user_id, "key.expired", key, data)
    return raised
