"""Rate limits (per key and per account, dashboard/api/call_limits.py) and the monthly quota.

Limits: a sliding log of the last 60 seconds per key and per account; on Redis one Lua script
per call counts both, takes a tool call's slot among its account's calls in flight
(dashboard/api/concurrency.py) and reads the key's and account's invalidation marks (one round
trip).

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

import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from dashboard.api.call_limits import InFlight, MemoryCallLimits, RedisCallLimits, Verdict
from dashboard.api.connection import fetch_one
from dashboard.api.extension import gateway_state
from dashboard.limits_storage import redis_client
from dashboard.models import UsageSummary
from dashboard.observability.metrics import RATE_LIMIT_STORAGE_FAILURES
from dashboard.plans import plan_named

SUMMARIES = UsageSummary.__table__


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

    def check(self, key, count: bool = True, in_flight: InFlight | None = None) -> Verdict | None:
        """Count one call of `key` against its key's and account's limits (count=False only
        reads them), and with `in_flight` take one of its account's slots for calls in flight;
        None when the storage is down and the gateway fails open."""
        if time.monotonic() < self.down_until:
            return self._storage_down()
        account_limit = plan_named(key.subscription_plan).account_calls_per_minute
        try:
            return self.limits.check(
                key.id, key.user_id, key.rate_limit_per_minute, account_limit, count, in_flight
            )
        except Exception:  # redis.ConnectionError, TimeoutError, ...: any storage failure
            return self.storage_failed()

    def storage_failed(self) -> None:
        """Note a storage failure (logged, counted, then left alone for a while); None when the
        gateway fails open, else LimiterUnavailable."""
        current_app.logger.warning("Rate-limit storage failed", exc_info=True)
        RATE_LIMIT_STORAGE_FAILURES.labels("open" if self.fail_open else "closed").inc()
        self.down_until = time.monotonic() + self.retry_seconds
        return self._storage_down()

    def _storage_down(self) -> None:
        if self.fail_open:
            return None
        raise LimiterUnavailable


def key_limiter() -> KeyLimiter:
    """The API app's key limiter, built on first use (no network at start-up)."""
    state = gateway_state()
    if state.limiter is None:
        with state.limiter_lock:
            if state.limiter is None:
                state.limiter = build_key_limiter(current_app.config)
    return state.limiter


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


def month_counts():
    """The month's calls per (user, month) as this process last saw them."""
    return gateway_state().month_calls


def calls_this_month(user_id, month_year: str) -> int:
    """The user's metered calls in the month: from the cache, else usage_summaries."""
    counts = month_counts()
    calls = counts.get((user_id, month_year))
    if calls is None:
        calls = read_calls_this_month(user_id, month_year)
        counts.put((user_id, month_year), calls)
    return calls


def saw_calls_this_month(user_id, month_year: str, calls: int) -> None:
    """Remember the count a metered call brought back (it is the true count after that call)."""
    month_counts().put((user_id, month_year), calls)


def read_calls_this_month(user_id, month_year: str) -> int:
    """The user's metered calls in the month (usage_summaries.total_calls)."""
    row = fetch_one(MONTH_CALLS, {"user_id": user_id, "month_year": month_year})
    return row[0] if row else 0


MONTH_CALLS = sa.select(SUMMARIES.c.total_calls).where(
    SUMMARIES.c.user_id == sa.bindparam("user_id"),
    SUMMARIES.c.month_year == sa.bindparam("month_year"),
)
