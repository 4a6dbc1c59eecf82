"""The keys service: creating within the plan, listing, changing, expiring and rolling."""

from datetime import date, datetime, timedelta

import pytest

from dashboard.alerts.key_events import SYSTEM
from dashboard.extensions import db
from dashboard.keys.rules import key_status
from dashboard.keys.secrets import DISPLAY_PREFIX_LENGTH, has_valid_checksum, hash_secret
from dashboard.keys.service import (
    GRACE_PERIODS,
    KeyLimitReached,
    KeyNotActive,
    active_key_count,
    create_key_within_plan,
    expire_key,
    expiry_from_choice,
    key_limit_message,
    key_of,
    keys_of,
    roll_key,
    stop_delay_phrase,
    tool_choices,
    update_key,
)
from dashboard.models import ApiKey, utcnow
from dashboard.plans import Plan, plan_named


def test_create_key_stores_only_the_hash_and_a_short_prefix(user, make_key):
    key, secret = make_key(user, "prod")
    assert secret.startswith("tk_live_")
    # 32 random bytes in URL-safe base64, then the checksum (keys.secrets)
    assert len(secret) == len("tk_live_") + 43 + 6
    assert has_valid_checksum(secret)
    assert key.key == hash_secret(secret) != secret
    assert key.prefix == secret[:DISPLAY_PREFIX_LENGTH]
    assert len(key.prefix) < len(secret) - 32
    assert key.rate_limit_per_minute == 100
    assert key_status(key, utcnow()) == "active"


def test_secrets_differ(user, make_key):
    secrets = {make_key(user)[1] for _ in range(5)}
    assert len(secrets) == 5


def test_keys_of_is_newest_first_and_only_the_users(user, make_user, make_key):
    other = make_user()
    old, _ = make_key(user, "old")
    new, _ = make_key(user, "new")
    make_key(other, "someone else's")
    old.created_at = datetime(2025, 1, 1)
    new.created_at = datetime(2025, 6, 1)
    db.session.commit()
    assert [k.name for k in keys_of(user)] == ["new", "old"]


def test_key_of_answers_none_for_other_users_and_malformed_ids(user, make_user, make_key):
    other = make_user()
    mine, _ = make_key(user)
    theirs, _ = make_key(other)
    assert key_of(user, str(mine.id)) == mine
    assert key_of(user, mine.id) == mine
    assert key_of(user, str(theirs.id)) is None
    for bad in ("", "nope", "123", "../etc", str(mine.id) + "0"):
        assert key_of(user, bad) is None


def test_key_count_counts_every_secret_that_still_works(user, make_key):
    now = utcnow()
    make_key(user, "active")
    make_key(user, "expired", expires_at=now - timedelta(minutes=1))
    expire_key(make_key(user, "revoked")[0], actor=SYSTEM)
    roll_key(
        make_key(user, "rolled")[0], timedelta(hours=1), actor=SYSTEM
    )  # it and its successor work
    assert active_key_count(user) == 3
    roll_key(make_key(user, "no grace")[0], timedelta(0), actor=SYSTEM)  # only its successor works
    assert active_key_count(user) == 4


def test_create_key_within_plan_refuses_over_the_limit(user, make_key):
    plan = plan_named("free")
    for n in range(plan.max_active_keys):
        create_key_within_plan(user, f"key {n}", actor=SYSTEM)
    with pytest.raises(KeyLimitReached, match="Your Free plan allows 3 working keys"):
        create_key_within_plan(user, "one too many", actor=SYSTEM)
    assert len(keys_of(user)) == plan.max_active_keys
    expire_key(keys_of(user)[0], actor=SYSTEM)
    key, _ = create_key_within_plan(user, "after expiring one", actor=SYSTEM)
    assert key.name == "after expiring one"


def test_key_limit_message():
    solo = Plan("solo", "Solo", 1, 1, 1, 1, 0)
    assert key_limit_message(solo) == (
        "Your Solo plan allows 1 working key (rolled keys count until their grace period "
        "ends). Expire one or upgrade."
    )
    pro = Plan("pro", "Pro", 1, 1, 20, 1, 0)
    assert key_limit_message(pro).startswith("Your Pro plan allows 20 working keys")


def test_tool_choices_are_distinct_active_names(tools):
    assert tool_choices() == ["echo", "sentiment"]


def test_tool_choices_empty_without_tools(app):
    assert tool_choices() == []


def test_expiry_from_choice():
    now = datetime(2026, 1, 1, 9, 30)
    assert expiry_from_choice("never", None, now) is None
    assert expiry_from_choice("7", None, now) == datetime(2026, 1, 8, 9, 30)
    assert expiry_from_choice("30", None, now) == datetime(2026, 1, 31, 9, 30)
    assert expiry_from_choice("90", None, now) == now + timedelta(days=90)
    assert expiry_from_choice("custom", date(2026, 2, 1), now) == datetime(2026, 2, 1)
    assert expiry_from_choice("custom", None, now) is None


def test_update_key_changes_settings_and_clears_empty_restrictions(user, make_key):
    key, _ = make_key(user, allowed_tools=["echo"], allowed_ips=["10.0.0.0/8"])
    update_key(key, name="renamed", rate_limit_per_minute=7, allowed_tools=[], allowed_ips=None)
    db.session.expire_all()
    key = db.session.get(ApiKey, key.id)
    assert (key.name, key.rate_limit_per_minute) == ("renamed", 7)
    assert key.allowed_tools is None and key.allowed_ips is None


def test_expire_key_revokes_now(user, make_key):
    key, _ = make_key(user)
    before = utcnow()
    expire_key(key, actor=SYSTEM)
    db.session.expire_all()
    key = db.session.get(ApiKey, key.id)
    assert key.is_active is False
    assert key.revoked_at >= before.replace(microsecond=0)
    assert key_status(key, utcnow()) == "revoked"


def test_roll_key_copies_settings_and_starts_a_grace(user, make_key):
    old, old_secret = make_key(
        user,
        "prod",
        rate_limit_per_minute=42,
        expires_at=datetime(2030, 1, 1),
        allowed_tools=["echo"],
        allowed_ips=["10.0.0.0/8"],
    )
    now = utcnow()
    new, secret = roll_key(old, GRACE_PERIODS["24h"], actor=SYSTEM, now=now)
    db.session.expire_all()
    old, new = db.session.get(ApiKey, old.id), db.session.get(ApiKey, new.id)
    assert secret != old_secret and new.key == hash_secret(secret)
    assert (new.name, new.rate_limit_per_minute, new.expires_at) == (
        "prod",
        42,
        datetime(2030, 1, 1),
    )
    assert (new.allowed_tools, new.allowed_ips) == (["echo"], ["10.0.0.0/8"])
    assert old.replaced_by_id == new.id
    assert abs(old.grace_ends_at - (now + timedelta(hours=24))) < timedelta(seconds=1)
    assert key_status(old, now) == "rolled"
    assert key_status(old, now + timedelta(hours=24, seconds=1)) == "revoked"
    assert key_status(new, now) == "active"
    assert [k.id for k in keys_of(user)] == [new.id, old.id]


def test_roll_key_without_grace_stops_the_old_key_at_once(user, make_key):
    old, _ = make_key(user)
    roll_key(old, GRACE_PERIODS["none"], actor=SYSTEM)
    assert key_status(old, utcnow()) == "revoked"


@pytest.mark.parametrize("state", ["expired", "revoked", "rolled"])
def test_roll_key_refuses_keys_that_are_not_active(user, make_key, state):
    key, _ = make_key(user)
    if state == "expired":
        key.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    elif state == "revoked":
        expire_key(key, actor=SYSTEM)
    else:
        roll_key(key, GRACE_PERIODS["1h"], actor=SYSTEM)
    count = len(keys_of(user))
    with pytest.raises(KeyNotActive, match=state):
        roll_key(key, GRACE_PERIODS["1h"], actor=SYSTEM)
    assert len(keys_of(user)) == count


def test_stop_delay_phrase():
    assert stop_delay_phrase(5) == "within 5 seconds"
    assert stop_delay_phrase(1) == "within 1 second"
    assert stop_delay_phrase(0) == "at once"
    assert stop_delay_phrase(5, shared_storage=True) == "within a second"


def working_secrets(user) -> int:
    return sum(1 for key in keys_of(user) if key_status(key, utcnow()) in ("active", "rolled"))


def test_rolling_with_a_grace_period_is_refused_at_the_key_cap(user, make_key):
    """Free allows 3 working keys; rolling five times with a 7-day grace used to leave 8."""
    first, _ = make_key(user, "one")
    roll_key(
        first, GRACE_PERIODS["7d"], actor=SYSTEM
    )  # 2 working: the rolled key and its successor
    successor = next(key for key in keys_of(user) if key_status(key, utcnow()) == "active")
    roll_key(successor, GRACE_PERIODS["7d"], actor=SYSTEM)  # 3 working: the cap
    current = next(key for key in keys_of(user) if key_status(key, utcnow()) == "active")
    count = len(keys_of(user))
    with pytest.raises(KeyLimitReached, match="grace period"):
        roll_key(current, GRACE_PERIODS["7d"], actor=SYSTEM)
    assert len(keys_of(user)) == count and working_secrets(user) == 3
    for _ in range(5):  # rolling with no grace period is always allowed: the count stays
        current, _ = roll_key(current, GRACE_PERIODS["none"], actor=SYSTEM)
        assert working_secrets(user) == 3
    with pytest.raises(KeyLimitReached):
        create_key_within_plan(user, "four", actor=SYSTEM)
