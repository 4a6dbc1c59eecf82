"""Keys: creating, reading, changing, expiring, rolling and deleting a user's keys.

Creating (create_key_within_plan), rolling, expiring and deleting a key raise its lifecycle event
(dashboard/alerts/key_events.py) here, after the commit, with the actor the caller names: every
caller, the dashboard's pages and the management API alike, goes through these functions.
`create_key` is the bare insert (demo data, the playground's fixtures, tests): it raises none.

Deleting a key (delete_key) keeps its row, marked `deleted_at`: it stops at once like an expired
key (it is revoked too), and keys_of and key_of leave it out, so it is gone from every list and
page and the management API answers 404 for it; its log rows, rollups and the month's usage stay
(pages name it "deleted key <prefix>"). It cannot be undone.
"""

import uuid
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.alerts.key_events import (
    Actor,
    key_created,
    key_deleted,
    key_expired,
    key_rolled,
)
from dashboard.extensions import db
from dashboard.keys.rules import key_refusal, key_status
from dashboard.keys.secrets import derived_secret, display_prefix, hash_secret, new_secret
from dashboard.models import (
    AlertKeyWatch,
    ApiKey,
    ErrorGroupDay,
    RejectedCalls,
    Tool,
    ToolLog,
    UsageDaily,
    User,
    utcnow,
)
from dashboard.models.types import new_id, parse_uuid
from dashboard.plans import Plan, plan_named
from dashboard.revocation import key_changed

NAME_MAX = 80
DEFAULT_RATE_LIMIT = 100  # the seed's column default
EXPIRY_PRESETS = {"7": timedelta(days=7), "30": timedelta(days=30), "90": timedelta(days=90)}
# How long a rolled key keeps working next to its successor.
GRACE_PERIODS = {
    "none": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
PLAYGROUND_KEY_NAME = "Playground"
# A playground key is used again while it has at least this long left, else a new one is made.
PLAYGROUND_KEY_MARGIN = timedelta(minutes=1)


class Unchanged:
    """The type of UNCHANGED: a setting the caller leaves as it is."""


UNCHANGED = Unchanged()


class KeyLimitReached(Exception):
    """The plan allows no more working keys."""


class KeyNotActive(Exception):
    """Only an active key can be rolled."""


def create_key(
    user: User,
    name: str,
    *,
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT,
    expires_at: datetime | None = None,
    allowed_tools: list[str] | None = None,
    allowed_ips: list[str] | None = None,
    monthly_call_cap: int | None = None,
    is_test: bool = False,
) -> tuple[ApiKey, str]:
    """A new key for `user` and its secret, which is not stored and cannot be shown again; a
    test-mode key (`is_test`, fixed for its life) gets a `tk_test_` secret."""
    secret = new_secret(test=is_test)
    key = ApiKey(
        user_id=user.id,
        name=name,
        key=hash_secret(secret),
        prefix=display_prefix(secret),
        rate_limit_per_minute=rate_limit_per_minute,
        expires_at=expires_at,
        allowed_tools=allowed_tools,
        allowed_ips=allowed_ips,
        monthly_call_cap=monthly_call_cap,
        is_test=is_test,
    )
    db.session.add(key)
    db.session.commit()
    return key, secret


def create_key_within_plan(
    user: User, name: str, *, actor: Actor, **settings
) -> tuple[ApiKey, str]:
    """create_key, refused with KeyLimitReached when the plan's working keys are all in use;
    raises key.created by `actor`."""
    lock_account(user)
    if active_key_count(user) >= plan_named(user.subscription_plan).max_active_keys:
        db.session.rollback()
        raise KeyLimitReached(key_limit_message(plan_named(user.subscription_plan)))
    key, secret = create_key(user, name, **settings)
    key_created(key, actor)
    return key, secret


def lock_account(user_or_id) -> None:
    """Lock the account row (PostgreSQL) so that two concurrent creations or rolls cannot both
    pass the key count."""
    user_id = getattr(user_or_id, "id", user_or_id)
    db.session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())


def keys_of(user: User, *, playground: bool = True, deleted: bool = False) -> list[ApiKey]:
    """The user's keys, newest first; playground=False leaves out the playground's keys, and
    deleted keys are left out unless `deleted` (pages that name the key of a logged call)."""
    query = sa.select(ApiKey).where(ApiKey.user_id == user.id)
    if not deleted:
        query = query.where(ApiKey.deleted_at.is_(None))
    if not playground:
        query = query.where(ApiKey.is_playground.is_(False))
    return list(db.session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def rolled_from(key: ApiKey) -> ApiKey | None:
    """The key that was rolled into `key`, if any (and not deleted since)."""
    return db.session.scalar(
        sa.select(ApiKey).where(
            ApiKey.replaced_by_id == key.id,
            ApiKey.user_id == key.user_id,
            ApiKey.deleted_at.is_(None),
        )
    )


def rolled_pairs_together(keys: list[ApiKey]) -> list[ApiKey]:
    """`keys` (newest first) with each rolled key right under the key it was rolled into, so
    a roll's old and new key sit side by side (a chain of rolls stays in one run)."""
    position = {key.id: index for index, key in enumerate(keys)}
    by_id = {key.id: key for key in keys}

    def newest_in_chain(key: ApiKey) -> ApiKey:
        seen = {key.id}
        while key.replaced_by_id in by_id and key.replaced_by_id not in seen:
            key = by_id[key.replaced_by_id]
            seen.add(key.id)
        return key

    return sorted(keys, key=lambda key: (position[newest_in_chain(key).id], position[key.id]))


def key_of(user: User, key_id: str | uuid.UUID, *, deleted: bool = False) -> ApiKey | None:
    """The user's key with this id; None for someone else's key, a malformed id, and a deleted
    key unless `deleted` (its calls are still read by it, e.g. the logs' key filter)."""
    key_uuid = parse_uuid(key_id)
    if key_uuid is None:
        return None
    query = sa.select(ApiKey).where(ApiKey.id == key_uuid, ApiKey.user_id == user.id)
    if not deleted:
        query = query.where(ApiKey.deleted_at.is_(None))
    return db.session.scalar(query)


def active_key_count(user: User, now: datetime | None = None) -> int:
    """How many of the user's secrets still work: active keys and rolled keys in their grace
    period (what the plan's key cap counts; the playground's short-lived keys are not)."""
    now = now or utcnow()
    return sum(1 for key in keys_of(user, playground=False) if key_refusal(key, now) is None)


def playground_key(user: User, now: datetime | None = None) -> tuple[ApiKey, str]:
    """The user's playground key and its secret: the current one while it has a minute left,
    else a new one that works for PLAYGROUND_KEY_MINUTES. Its secret is derived from its id and
    SECRET_KEY (derived_secret), so nothing but its hash is stored, as for every key. It is a
    test-mode key (`tk_test_`): its calls are logged but never billed or counted against the
    quota, and its rate limit is a test key's (TEST_KEY_RATE_LIMIT_PER_MINUTE)."""
    now = now or utcnow()
    server_secret = current_app.config["SECRET_KEY"]
    current = db.session.scalars(
        sa.select(ApiKey)
        .where(
            ApiKey.user_id == user.id,
            ApiKey.is_playground.is_(True),
            ApiKey.is_test.is_(True),  # playground keys made before they were test keys: not
            ApiKey.is_active.is_(True),
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at > now + PLAYGROUND_KEY_MARGIN,
        )
        .order_by(ApiKey.expires_at.desc())
    )
    for key in current:
        secret = derived_secret(server_secret, key.id)
        if hash_secret(secret) == key.key:  # else SECRET_KEY changed since it was made
            return key, secret
    key_id = new_id()
    secret = derived_secret(server_secret, key_id)
    plan = plan_named(user.subscription_plan)
    key = ApiKey(
        id=key_id,
        user_id=user.id,
        name=PLAYGROUND_KEY_NAME,
        key=hash_secret(secret),
        prefix=display_prefix(secret),
        created_at=now,
        rate_limit_per_minute=min(
            current_app.config["TEST_KEY_RATE_LIMIT_PER_MINUTE"], plan.max_rate_limit
        ),
        expires_at=now + timedelta(minutes=current_app.config["PLAYGROUND_KEY_MINUTES"]),
        is_playground=True,
        is_test=True,
    )
    db.session.add(key)
    db.session.commit()
    return key, secret


def key_owner_id(secret: str):
    """The id of the account whose key has this secret, or None (no such key)."""
    return db.session.scalar(sa.select(ApiKey.user_id).where(ApiKey.key == hash_secret(secret)))


def key_limit_message(plan: Plan) -> str:
    """What to tell someone whose plan allows no more active keys."""
    noun = "key" if plan.max_active_keys == 1 else "keys"
    return (
        f"Your {plan.title} plan allows {plan.max_active_keys} working {noun} "
        "(rolled keys count until their grace period ends). Expire one or upgrade."
    )


def tool_choices() -> list[str]:
    """Names of the active tools (the `tools` table that `flask tools sync` fills), A to Z."""
    return list(
        db.session.scalars(
            sa.select(Tool.name).where(Tool.is_active.is_(True)).distinct().order_by(Tool.name)
        )
    )


def expiry_from_choice(choice: str, on: date | None, now: datetime | None = None):
    """expires_at for a form's choice: a preset (`7`, `30`, `90` days), `custom` (00:00 UTC on
    the date `on`) or `never` (None)."""
    if choice in EXPIRY_PRESETS:
        return (now or utcnow()) + EXPIRY_PRESETS[choice]
    if choice == "custom" and on is not None:
        return datetime.combine(on, time())
    return None


def update_key(
    key: ApiKey,
    *,
    name: str,
    rate_limit_per_minute: int,
    allowed_tools: list[str] | None,
    allowed_ips: list[str] | None,
    monthly_call_cap: int | Unchanged | None = UNCHANGED,
) -> ApiKey:
    """Change a key's name, rate limit, monthly cap (None: no cap; left out: as it is) and
    restrictions; never its mode."""
    key.name = name
    key.rate_limit_per_minute = rate_limit_per_minute
    if monthly_call_cap is not UNCHANGED:
        key.monthly_call_cap = monthly_call_cap
    key.allowed_tools = allowed_tools or None
    key.allowed_ips = allowed_ips or None
    db.session.commit()
    key_changed(key.id)
    return key


def expire_key(key: ApiKey, *, actor: Actor, now: datetime | None = None) -> ApiKey:
    """Stop a key now: every worker refuses it from the next call on (one second at most
    with Redis; see dashboard/api/revocation.py). Raises key.expired by `actor`."""
    key.revoked_at = now or utcnow()
    key.is_active = False
    db.session.commit()
    key_changed(key.id)
    key_expired(key, actor)
    return key


def delete_key(key: ApiKey, *, actor: Actor, now: datetime | None = None) -> ApiKey:
    """Delete a key: it stops now on every worker as an expired key does (revoked_at is set
    if it was still working), and leaves every list; its row stays for its log rows and usage.
    Raises key.deleted by `actor`. Deleting a deleted key changes nothing and raises nothing."""
    if key.deleted_at is not None:
        return key
    now = now or utcnow()
    key.deleted_at = now
    if key.revoked_at is None:
        key.revoked_at = now
    key.is_active = False
    db.session.commit()
    key_changed(key.id)
    key_deleted(key, actor, now)
    return key


def roll_key(
    key: ApiKey, grace: timedelta, *, actor: Actor, now: datetime | None = None
) -> tuple[ApiKey, str]:
    """A successor with the same name, limits and restrictions, and its secret; the old key
    keeps working for `grace` (zero: it stops at once). Raises KeyNotActive for other keys, and
    KeyLimitReached when a grace period would leave more working secrets than the plan's key
    cap (rolling with no grace period is always allowed: the count stays the same). Raises
    key.rolled by `actor`."""
    now = now or utcnow()
    if key_status(key, now) != "active" or key.is_playground:
        raise KeyNotActive(key_status(key, now) if not key.is_playground else "playground")
    if grace > timedelta(0):
        lock_account(key.user_id)
        owner = db.session.get(User, key.user_id)
        plan = plan_named(owner.subscription_plan)
        if active_key_count(owner, now) >= plan.max_active_keys:
            db.session.rollback()
            raise KeyLimitReached(roll_limit_message(plan))
    secret = new_secret(test=key.is_test)
    successor = ApiKey(
        user_id=key.user_id,
        name=key.name,
        key=hash_secret(secret),
        prefix=display_prefix(secret),
        created_at=now,
        rate_limit_per_minute=key.rate_limit_per_minute,
        expires_at=key.expires_at,
        allowed_tools=list(key.allowed_tools) if key.allowed_tools else None,
        allowed_ips=list(key.allowed_ips) if key.allowed_ips else None,
        monthly_call_cap=key.monthly_call_cap,
        is_test=key.is_test,
    )
    db.session.add(successor)
    db.session.flush()
    key.replaced_by_id = successor.id
    key.grace_ends_at = now + grace
    db.session.commit()
    key_changed(key.id)
    key_rolled(key, successor, actor)
    return successor, secret


def roll_limit_message(plan: Plan) -> str:
    """Why a roll with a grace period was refused."""
    return (
        f"Your {plan.title} plan allows {plan.max_active_keys} working keys, and a rolled key "
        "keeps working during its grace period. Roll with no grace period, expire a key, "
        "or upgrade."
    )


def stop_delay_phrase(cache_seconds: int, shared_storage: bool = False) -> str:
    """`within a second` when the workers share Redis (they read the invalidation marks),
    `at once` when the gateway does not cache keys, else `within 5 seconds` (other worker
    processes keep their cached row that long)."""
    if shared_storage:
        return "within a second"
    if cache_seconds <= 0:
        return "at once"
    return f"within {cache_seconds} second{'s' if cache_seconds != 1 else ''}"


class KeyNotMovable(Exception):
    """The key cannot move: the message says why, in words for the page."""


def roll_chain(key: ApiKey) -> list[ApiKey]:
    """The key with every key it was rolled from or into (they move together, so each key's
    page still links its predecessor and successor)."""
    chain = {key.id: key}
    frontier = [key]
    while frontier:
        current = frontier.pop()
        linked = db.session.scalars(
            sa.select(ApiKey).where(
                ApiKey.user_id == key.user_id,
                sa.or_(
                    ApiKey.replaced_by_id == current.id,
                    ApiKey.id == current.replaced_by_id,
                ),
            )
        )
        for found in linked:
            if found.id not in chain:
                chain[found.id] = found
                frontier.append(found)
    return sorted(chain.values(), key=lambda k: k.created_at)


def move_key(key: ApiKey, account: User, now: datetime | None = None) -> list[ApiKey]:
    """Move a key (with its roll chain) to `account`, with its call history: its log rows,
    daily rollups, refused-call counts, error groups and IP watch. Calls made before the move
    stay counted in the old account's monthly total (usage_summaries: the quota and bill of
    that month). Every worker sees the new owner from the next call on (key_changed)."""
    now = now or utcnow()
    if key.is_playground:
        raise KeyNotMovable("Playground keys stay with their account.")
    if key.user_id == account.id:
        raise KeyNotMovable("The key is already there.")
    chain = roll_chain(key)
    ids = [k.id for k in chain]
    lock_account(account)
    working = sum(1 for k in chain if key_refusal(k, now) is None)
    plan = plan_named(account.subscription_plan)
    if working and active_key_count(account, now) + working > plan.max_active_keys:
        db.session.rollback()
        raise KeyNotMovable(
            f"Its {plan.title} plan allows {plan.max_active_keys} working keys, and they are "
            "in use: expire one there first."
        )
    old_owner = key.user_id
    for model in (ToolLog, UsageDaily, RejectedCalls, ErrorGroupDay, AlertKeyWatch):
        db.session.execute(
            sa.update(model)
            .where(model.api_key_id.in_(ids), model.user_id == old_owner)
            .values(user_id=account.id)
            .execution_options(synchronize_session=False)
        )
    for moved in chain:
        moved.user_id = account.id
    db.session.commit()
    for moved in chain:
        key_changed(moved.id)
    return chain
