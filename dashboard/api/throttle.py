"""Per-key rate limits (the `limits` library) and the plan's monthly quota.

Strategy: fixed window, one minute, started by the key's first call. It costs one atomic
INCR (+EXPIRE) per call on Redis and a single counter in memory, and X-RateLimit-Reset is exact.
A moving window would forbid the up-to-2x burst across a window edge, but it keeps one entry
per call (10,000 per key on the biggest plan) and runs a Lua scan of them on every call.

Storage: RATELIMIT_STORAGE_URI. `memory://` counts per process (each gunicorn worker has its
own counters); `redis://...` is shared by all workers. Redis calls time out after
RATELIMIT_REDIS_TIMEOUT seconds and are not retried; when Redis fails the gateway fails open
(RATELIMIT_FAIL_OPEN, default True: calls go through without rate-limit headers) or answers
503 `rate_limiter_unavailable`, and it does not ask Redis again for RATELIMIT_RETRY_SECONDS.
"""

import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from dashboard.api.answers import RateWindow
from dashboard.extensions import db
from dashboard.models import UsageSummary

SUMMARIES = UsageSummary.__table__
_init_lock = threading.Lock()


class LimiterUnavailable(Exception):
    """The rate-limit storage failed and the gateway is configured to fail closed."""


@dataclass
class KeyLimiter:
    """The app's fixed-window limiter and the state of its storage."""

    limiter: FixedWindowRateLimiter
    fail_open: bool
    retry_seconds: float
    down_until: float = 0.0

    def hit(self, key_id, limit: int) -> tuple[bool, RateWindow | None]:
        """Count one call for the key: (allowed, window); window is None when storage is down."""
        return self._ask(lambda item, ident: self.limiter.hit(item, ident), key_id, limit)

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
            current_app.logger.warning("Rate-limit storage failed", exc_info=True)
            self.down_until = time.monotonic() + self.retry_seconds
            return self._storage_down()
        return allowed, RateWindow(limit, stats.remaining, stats.reset_time)

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

    timeout = float(config.get("RATELIMIT_REDIS_TIMEOUT", 0.25))
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "key_prefix": "tools-api",
    }


def key_limiter() -> KeyLimiter:
    """The app's key limiter, built once on first use (the factory stays free of it)."""
    app = current_app._get_current_object()
    limiter = app.extensions.get("api_key_limiter")
    if limiter is None:
        with _init_lock:
            limiter = app.extensions.get("api_key_limiter")
            if limiter is None:
                uri = app.config["RATELIMIT_STORAGE_URI"]
                storage = storage_from_string(uri, **storage_options(uri, app.config))
                limiter = KeyLimiter(
                    FixedWindowRateLimiter(storage),
                    fail_open=app.config.get("RATELIMIT_FAIL_OPEN", True),
                    retry_seconds=float(app.config.get("RATELIMIT_RETRY_SECONDS", 5)),
                )
                app.extensions["api_key_limiter"] = limiter
    return limiter


def calls_this_month(user_id, month_year: str) -> int:
    """The user's metered calls in the month (usage_summaries.total_calls)."""
    calls = db.session.execute(
        sa.select(SUMMARIES.c.total_calls).where(
            SUMMARIES.c.user_id == user_id, SUMMARIES.c.month_year == month_year
        )
    ).scalar()
    return calls or 0
