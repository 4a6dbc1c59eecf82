"""The Gateway extension: the one owner of the API's per-process state and per-request hooks.

`gateway.init_app(app)` gives the API app:
- its state (`gateway_state()`): the key cache and month counts (cachetools TTL caches), the
  served-tools cache, the key limiter (built on first use: no network at start-up) and the
  connections each thread keeps between requests;
- its hooks: the request clock (Server-Timing), the fixed security headers and rate-limit
  headers on every answer, and giving back the hot path's database connection.
"""

import threading
from dataclasses import dataclass, field

from cachetools import TTLCache
from flask import Flask, current_app

from dashboard.api.answers import answer_headers, start_timing
from dashboard.api.connection import release_raw_connection

CACHE_MAX_ENTRIES = 10_000

# JSON answers are never framed, sniffed or allowed to load anything.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


class TimedCache:
    """A thread-safe TTL cache (cachetools) that stores nothing when `seconds` is 0."""

    def __init__(self, seconds: float, maxsize: int = CACHE_MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.entries = TTLCache(maxsize=maxsize, ttl=seconds) if seconds > 0 else None
        self.lock = threading.Lock()

    def get(self, key, default=None):
        if self.entries is None:
            return default
        with self.lock:
            return self.entries.get(key, default)

    def put(self, key, value) -> None:
        if self.entries is None:
            return
        with self.lock:
            self.entries[key] = value

    def forget(self, key) -> None:
        if self.entries is None:
            return
        with self.lock:
            self.entries.pop(key, None)

    def forget_matching(self, key_id=None, user_id=None) -> None:
        """Drop the cached key rows of one key, or of every key of one account."""
        if self.entries is None:
            return
        with self.lock:
            for name, row in list(self.entries.items()):
                if row is not None and (row.id == key_id or row.user_id == user_id):
                    self.entries.pop(name, None)

    def clear(self) -> None:
        if self.entries is None:
            return
        with self.lock:
            self.entries.clear()


@dataclass
class GatewayState:
    """What one process of the API app keeps between requests."""

    keys: TimedCache
    month_calls: TimedCache
    kept_connections: threading.local = field(default_factory=threading.local)
    limiter: object | None = None  # throttle.KeyLimiter, built on first use
    limiter_lock: threading.Lock = field(default_factory=threading.Lock)
    security_headers: list[tuple[str, str]] = field(default_factory=list)


class Gateway:
    """The API app's extension: state and hooks of the hot path."""

    def init_app(self, app: Flask) -> None:
        key_seconds = app.config["API_KEY_CACHE_SECONDS"]
        quota_seconds = app.config["API_QUOTA_CACHE_SECONDS"]
        headers = dict(SECURITY_HEADERS)
        if app.config.get("FORCE_HTTPS"):
            headers[HSTS[0]] = HSTS[1]
        app.extensions["gateway"] = GatewayState(
            keys=TimedCache(key_seconds),
            month_calls=TimedCache(key_seconds if quota_seconds is None else quota_seconds),
            security_headers=list(headers.items()),
        )
        app.before_request(start_request)
        app.after_request(finish_answer)
        app.teardown_appcontext(release_raw_connection)


def gateway_state() -> GatewayState:
    """The current API app's gateway state."""
    return current_app.extensions["gateway"]


def start_request() -> None:
    start_timing()


def finish_answer(response):
    """Server-Timing, the rate-limit headers once known and the fixed security headers, added
    in one step: nothing else sets them."""
    response.headers.extend(answer_headers() + current_app.extensions["gateway"].security_headers)
    return response


gateway = Gateway()
