"""Rate limits (per key and per account, dashboard/api/call_limits.py) and the monthly quota.

Limits: a sliding log of the last 60 seconds per key and per account; on Redis one Lua script
per call counts both and reads the key's and account's invalidation marks (one round trip).

Storage: RATELIMIT_STORAGE_URI. `memory://` counts per process (each gunicorn worker has its
own logs); `redis://...` is shared by all workers, under RATELIMIT_KEY_PREFIX. Redis calls time
out after RATELIMIT_REDIS_TIMEOUT seconds and are not retried; when Redis fails the gateway
fails open (RATELIMIT_FAIL_OPEN, default True: calls go through without rate-limit headers) or
answers 503 `rate_limiter_unavailable`, and it does not ask Redis again for
RATELIMIT_RETRY_SECONDS.

Quota: the month's calls per user are kept in process for API_QUOTA_CACHE_SECONDS (default
API_KEY_CACHE_SECONDS) and refreshed by every metered call, whose statement answers the new count.
A call is let through while the count this process saw is below the quota, and every call let
through brings back the true count, so the quota is overrun by at most one call per request
handler running at once (gunicorn workers x threads), as without the cache.
"""

import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from dashboard.api.call_limits import MemoryCallLimits, RedisCallLimits, Verdict
from dashboard.api.connection import fetch_one
from dashboard.limits_storage import redis_client
from dashboard.models import UsageSummary
from dashboard.plans import plan_named

SUMMARIES = UsageSummary.__table__
_init_lock = threading.Lock()
CACHE_MAX_ENTRIES = 10_000


class LimiterUnavailable(Exception):
    """The rate-limit storage failed and the gateway is configured to fail closed."""


@dataclass
class KeyLimiter:
    """The app's call limits (key and account) and the state of their storage."""

    limits: RedisCallLimits | MemoryCallLimits
    fail_open: bool
    retry_seconds: float
    redis: object | None = None  # the Redis client, when the storage is Redis
    prefix: str = ""
    down_until: float = 0.0

    def check(self, key, count: bool = True) -> Verdict | None:
        """Count one call of `key` against its key's and account's limits (count=False only
        reads them); None when the storage is down and the gateway fails open."""
        if time.monotonic() < self.down_until:
            return self._storage_down()
        account_limit = plan_named(key.subscription_plan).account_calls_per_minute
        try:
            return self.limits.check(
                key.id, key.user_id, key.rate_limit_per_minute, account_limit, count
            )
        except Exception:  # redis.ConnectionError, TimeoutError, ...: any storage failure
            return self._failed()

    def _failed(self) -> None:
        current_app.logger.warning("Rate-limit storage failed", exc_info=True)
        self.down_until = time.monotonic() + self.retry_seconds
        return self._storage_down()

    def _storage_down(self) -> None:
        if self.fail_open:
            return None
        raise LimiterUnavailable


def key_limiter() -> KeyLimiter:
    """The app's key limiter, built once on first use (the factory stays free of it)."""
    app = current_app._get_current_object()
    limiter = app.extensions.get("api_key_limiter")
    if limiter is None:
        with _init_lock:
            limiter = app.extensions.get("api_key_limiter")
            if limiter is None:
                limiter = build_key_limiter(app.config)
                app.extensions["api_key_limiter"] = limiter
    return limiter


def build_key_limiter(config) -> KeyLimiter:
    """Sliding logs in Redis when RATELIMIT_STORAGE_URI names Redis, else in this process."""
    settings = {
        "fail_open": config["RATELIMIT_FAIL_OPEN"],
        "retry_seconds": float(config["RATELIMIT_RETRY_SECONDS"]),
    }
    window = int(config["RATELIMIT_WINDOW_SECONDS"])
    client = redis_client()
    if client is None:
        return KeyLimiter(MemoryCallLimits(window), **settings)
    prefix = config["RATELIMIT_KEY_PREFIX"]
    limits = RedisCallLimits(client, prefix, window)
    return KeyLimiter(limits, redis=client, prefix=prefix, **settings)


class MonthCounts:
    """Calls this month per user as this process last saw them, for `seconds` at most."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.entries: dict[tuple, tuple[float, int]] = {}
        self.lock = threading.Lock()

    def get(self, user_id, month_year: str) -> int | None:
        entry = self.entries.get((user_id, month_year))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, user_id, month_year: str, calls: int) -> None:
        if self.seconds <= 0:
            return
        with self.lock:
            if len(self.entries) >= CACHE_MAX_ENTRIES:
                self.entries.clear()
            self.entries[(user_id, month_year)] = (time.monotonic() + self.seconds, calls)


def month_counts() -> MonthCounts:
    """This app's month-count cache, made on first use."""
    app = current_app._get_current_object()
    counts = app.extensions.get("api_month_counts")
    if counts is None:
        seconds = app.config.get("API_QUOTA_CACHE_SECONDS", app.config["API_KEY_CACHE_SECONDS"])
        counts = app.extensions.setdefault("api_month_counts", MonthCounts(seconds))
    return counts


def calls_this_month(user_id, month_year: str) -> int:
    """The user's metered calls in the month: from the cache, else usage_summaries."""
    counts = month_counts()
    calls = counts.get(user_id, month_year)
    if calls is None:
        calls = read_calls_this_month(user_id, month_year)
        counts.put(user_id, month_year, calls)
    return calls


def saw_calls_this_month(user_id, month_year: str, calls: int) -> None:
    """Remember the count a metered call brought back (it is the true count after that call)."""
    month_counts().put(user_id, month_year, calls)


def read_calls_this_month(user_id, month_year: str) -> int:
    """The user's metered calls in the month (usage_summaries.total_calls)."""
    row = fetch_one(MONTH_CALLS, {"user_id": user_id, "month_year": month_year})
    return row[0] if row else 0


MONTH_CALLS = sa.select(SUMMARIES.c.total_calls).where(
    SUMMARIES.c.user_id == sa.bindparam("user_id"),
    SUMMARIES.c.month_year == sa.bindparam("month_year"),
)
