"""Per-key rate limits (the `limits` library) and the plan's monthly quota.

Strategy: fixed window, one minute, started by the key's first call. On Redis a call costs ONE
round trip: a Lua script (the `limits` library's INCRBY + EXPIRE, plus the TTL) answers the count
and the reset time together, where `limits` alone makes three (hit, get, ttl). In memory it is a
single counter. X-RateLimit-Reset is exact. Keys are named as `limits` names them.
A moving window would forbid the up-to-2x burst across a window edge, but it keeps one entry
per call (10,000 per key on the biggest plan) and runs a Lua scan of them on every call.

Storage: RATELIMIT_STORAGE_URI. `memory://` counts per process (each gunicorn worker has its
own counters); `redis://...` is shared by all workers. Redis calls time out after
RATELIMIT_REDIS_TIMEOUT seconds and are not retried; when Redis fails the gateway fails open
(RATELIMIT_FAIL_OPEN, default True: calls go through without rate-limit headers) or answers
503 `rate_limiter_unavailable`, and it does not ask Redis again for RATELIMIT_RETRY_SECONDS.

Quota: the month's calls per user are kept in process for API_QUOTA_CACHE_SECONDS (default
API_KEY_CACHE_SECONDS) and refreshed by every metered call, whose statement answers the new count.
A call is let through while the count this process saw is below the quota, and every call let
through brings back the true count, so the quota is overrun by at most one call per request
handler running at once (gunicorn workers x threads), as without the cache.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from dashboard.api.answers import RateWindow
from dashboard.api.connection import fetch_one
from dashboard.api.extension import gateway_state
from dashboard.models import UsageSummary
from dashboard.observability.metrics import RATE_LIMIT_STORAGE_FAILURES

SUMMARIES = UsageSummary.__table__

# INCRBY + EXPIRE as `limits` does it, and the TTL, in one round trip.
HIT_AND_TTL = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


class LimiterUnavailable(Exception):
    """The rate-limit storage failed and the gateway is configured to fail closed."""


@dataclass
class KeyLimiter:
    """The app's fixed-window limiter and the state of its storage."""

    limiter: FixedWindowRateLimiter
    fail_open: bool
    retry_seconds: float
    down_until: float = 0.0
    redis_hit: Callable | None = None  # the HIT_AND_TTL script, when the storage is Redis

    def hit(self, key_id, limit: int) -> tuple[bool, RateWindow | None]:
        """Count one call for the key: (allowed, window); window is None when storage is down."""
        if self.redis_hit is None:
            return self._ask(lambda item, ident: self.limiter.hit(item, ident), key_id, limit)
        if time.monotonic() < self.down_until:
            return self._storage_down()
        item = RateLimitItemPerMinute(limit, namespace="api-key")
        key = self.limiter.storage.prefixed_key(item.key_for(str(key_id)))
        try:
            count, ttl = self.redis_hit([key], [item.get_expiry(), 1])
        except Exception:  # redis.ConnectionError, TimeoutError, ...: any storage failure
            return self._failed()
        count = int(count)
        window = RateWindow(limit, max(0, limit - count), max(int(ttl), 0) + time.time())
        return count <= limit, window

    def peek(self, key_id, limit: int) -> RateWindow | None:
        """The key's window without counting a call (for answers that are not counted)."""
        return self._ask(lambda item, ident: True, key_id, limit)[1]

    def _ask(self, action, key_id, limit: int) -> tuple[bool, RateWindow | None]:
        if time.monotonic() < self.down_until:
            return self._storage_down()
        item = RateLimitItemPerMinute(limit, namespace="api-key")
        ident = str(key_id)
        try:
            allowed = action(item, ident)
            stats = self.limiter.get_window_stats(item, ident)
        except Exception:  # redis.ConnectionError, TimeoutError, ...: any storage failure
            return self._failed()
        return allowed, RateWindow(limit, stats.remaining, stats.reset_time)

    def _failed(self) -> tuple[bool, None]:
        current_app.logger.warning("Rate-limit storage failed", exc_info=True)
        RATE_LIMIT_STORAGE_FAILURES.labels("open" if self.fail_open else "closed").inc()
        self.down_until = time.monotonic() + self.retry_seconds
        return self._storage_down()

    def _storage_down(self) -> tuple[bool, None]:
        if self.fail_open:
            return True, None
        raise LimiterUnavailable


def storage_options(uri: str, config) -> dict:
    """Bounded waits and no retries for Redis, so an outage never hangs a call."""
    if not uri.startswith(("redis", "rediss", "valkey")):
        return {}
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = float(config["RATELIMIT_REDIS_TIMEOUT"])
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "key_prefix": config["RATELIMIT_KEY_PREFIX"],
    }


def key_limiter() -> KeyLimiter:
    """The API app's key limiter, built on first use (no network at start-up)."""
    state = gateway_state()
    if state.limiter is None:
        with state.limiter_lock:
            if state.limiter is None:
                state.limiter = build_limiter(current_app.config)
    return state.limiter


def build_limiter(config) -> KeyLimiter:
    """A KeyLimiter on RATELIMIT_STORAGE_URI (one Lua round trip a call on Redis)."""
    uri = config["RATELIMIT_STORAGE_URI"]
    storage = storage_from_string(uri, **storage_options(uri, config))
    return KeyLimiter(
        FixedWindowRateLimiter(storage),
        fail_open=config["RATELIMIT_FAIL_OPEN"],
        retry_seconds=float(config["RATELIMIT_RETRY_SECONDS"]),
        redis_hit=(
            storage.get_connection().register_script(HIT_AND_TTL)
            if isinstance(storage, RedisStorage)
            else None
        ),
    )


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
