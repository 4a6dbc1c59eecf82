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

Keys with a monthly cap (api_keys.monthly_call_cap): the same script counts the call against
the cap in a counter per key and month, so no worker lets a capped key past its cap. The
counter starts from the key's calls that month in usage_daily (read only when the storage does
not have it: a new month, or Redis lost it); a call counted and then refused by the account's
quota is taken back. In memory the counter is per process, like the other limits.

Test-mode keys (api_keys.is_test) are limited to TEST_KEY_RATE_LIMIT_PER_MINUTE, or their own
limit when lower; the account's limit applies to them as to any key.

Quota: the month's calls per user are kept in process for API_QUOTA_CACHE_SECONDS (default
API_KEY_CACHE_SECONDS) and refreshed by every metered call, whose statement answers the new count.
A call is let through while the count this process saw is below the quota, and every call let
through brings back the true count, so the quota is overrun by at most one call per request
handler running at once (gunicorn workers x threads), as without the cache.
"""

import time
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from dashboard.api.call_limits import (
    InFlight,
    MemoryCallLimits,
    MonthCap,
    RedisCallLimits,
    Verdict,
)
from dashboard.api.connection import fetch_one
from dashboard.api.extension import gateway_state
from dashboard.limits_storage import redis_client
from dashboard.models import UsageDaily, UsageSummary, utcnow
from dashboard.observability.metrics import RATE_LIMIT_STORAGE_FAILURES
from dashboard.plans import plan_named

SUMMARIES = UsageSummary.__table__
DAILY = UsageDaily.__table__


class LimiterUnavailable(Exception):
    """The rate-limit storage failed and the gateway is configured to fail closed."""


@dataclass
class KeyLimiter:
    """The app's call limits (key and account) and the state of their storage."""

    limits: RedisCallLimits | MemoryCallLimits
    fail_open: bool
    retry_seconds: float
    test_key_limit: int = 10  # TEST_KEY_RATE_LIMIT_PER_MINUTE
    redis: object | None = None  # the Redis client, when the storage is Redis
    prefix: str = ""
    down_until: float = 0.0

    def check(
        self, key, count: bool = True, in_flight: InFlight | None = None, metered: bool = False
    ) -> Verdict | None:
        """Count one call of `key` against its key's and account's limits (count=False only
        reads them), a tool call (`metered`) against the key's monthly cap when it has one,
        and with `in_flight` take
        one of its account's slots for calls in flight; None when the storage is down and the
        gateway fails open."""
        if time.monotonic() < self.down_until:
            return self._storage_down()
        account_limit = plan_named(key.subscription_plan).account_calls_per_minute
        key_limit = key.rate_limit_per_minute
        if key.is_test:
            key_limit = min(key_limit, self.test_key_limit)
        month = None
        if metered and key.monthly_call_cap is not None:
            month = MonthCap(utcnow().strftime("%Y-%m"), key.monthly_call_cap)
        limits = (key.id, key.user_id, key_limit, account_limit, count, in_flight)
        try:
            verdict = self.limits.check(*limits, month)
        except Exception:  # redis.ConnectionError, TimeoutError, ...: any storage failure
            return self.storage_failed()
        if verdict.refused_by != "key_month_unknown":
            return verdict
        # The storage does not count the key's month yet: start it from the database (once).
        month = MonthCap(month.month, month.cap, key_calls_in_month(key, month.month))
        try:
            return self.limits.check(*limits, month)
        except Exception:
            return self.storage_failed()

    def give_back_month(self, key, verdict: Verdict | None) -> None:
        """Take back the call `verdict` counted against the key's monthly cap (it was refused
        before it was metered); storage failures are only logged."""
        if verdict is None or verdict.key_cap is None or verdict.refused_by is not None:
            return
        try:
            self.limits.give_back_month(key.id, utcnow().strftime("%Y-%m"))
        except Exception:
            current_app.logger.warning("Could not give back a key's month count", exc_info=True)

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
        "test_key_limit": int(config["TEST_KEY_RATE_LIMIT_PER_MINUTE"]),
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


def key_calls_in_month(key, month_year: str) -> int:
    """The key's metered calls in the month (usage_daily, every tool and day of it)."""
    year, month = (int(part) for part in month_year.split("-"))
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    row = fetch_one(
        KEY_MONTH_CALLS, {"user_id": key.user_id, "key_id": key.id, "start": start, "end": end}
    )
    return int(row[0] or 0) if row else 0


# On usage_daily's primary key (user_id, day, ...): the account's days of the month.
KEY_MONTH_CALLS = sa.select(sa.func.sum(DAILY.c.calls)).where(
    DAILY.c.user_id == sa.bindparam("user_id"),
    DAILY.c.api_key_id == sa.bindparam("key_id"),
    DAILY.c.day >= sa.bindparam("start"),
    DAILY.c.day < sa.bindparam("end"),
)
