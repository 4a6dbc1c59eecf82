"""Telling every worker that a key or an account changed, so cached key rows are dropped.

The guarantee: once the dashboard has committed a change that stops or changes a key (expire,
the end of a roll's grace, an edit of its limit or restrictions) or its account (disabled,
deleted, moved to another plan), the next call with that key on ANY worker that starts one
second or more later is judged on the new row.

How: the dashboard writes an "invalidated at" mark (epoch seconds) for the key or the account
into Redis after the commit. The rate-limit script that every call already runs reads both marks
in the same round trip (dashboard/api/call_limits.py); when a mark is newer than the moment the
worker read its cached row, the gateway reads the row again before answering. A grace period that
ends on its own needs no mark: the cached row holds `grace_ends_at` and the gateway compares it to
the clock on every call. Marks live a minute longer than any cache entry, then expire.

Without Redis (`memory://`) there is one process that counts, and it drops its own cache entries
at once. With Redis down the marks cannot be written or read: the cache then bounds the delay
(API_KEY_CACHE_SECONDS). Marks are compared with the workers' own clocks: keep hosts in NTP sync.
"""

import time

from flask import current_app

from dashboard.limits_storage import redis_client

MARK_EXTRA_SECONDS = 60


def key_changed(key_id) -> None:
    """The key's row changed (committed): every worker reads it again on its next call."""
    forget_cached(key_id=key_id)
    write_mark(f"key:{key_id}")


def account_changed(user_id) -> None:
    """The account changed (committed): every worker reads its keys again on their next call."""
    forget_cached(user_id=user_id)
    write_mark(f"account:{user_id}")


def forget_cached(**which) -> None:
    """This process drops the rows at once: the key cache of the API app mounted beside the
    dashboard (or of the current app, when it is the API app)."""
    api = current_app.extensions.get("api_app", current_app)
    state = api.extensions.get("gateway")
    if state is not None:
        state.keys.forget_matching(**which)


def write_mark(name: str) -> None:
    """SET <prefix>:invalidated:<name> = now, for a minute past the longest cache entry."""
    config = current_app.config
    seconds = max(int(config["API_KEY_CACHE_SECONDS"]), 1) + MARK_EXTRA_SECONDS
    try:
        client = redis_client()
        if client is None:
            return
        mark = f"{config['RATELIMIT_KEY_PREFIX']}:invalidated:{name}"
        client.set(mark, repr(time.time()), ex=seconds)
    except Exception:  # redis.ConnectionError, TimeoutError: the cache's own expiry still holds
        current_app.logger.warning("Could not write an invalidation mark", exc_info=True)
