"""The rate-limit storage (RATELIMIT_STORAGE_URI), one per app: the API's call limits count in
it and the dashboard writes its invalidation marks there (dashboard/revocation.py)."""

import threading

from flask import current_app
from limits.storage import RedisStorage, Storage, storage_from_string

from dashboard.redis_waits import bounded_waits

_init_lock = threading.Lock()


def storage_options(uri: str, config) -> dict:
    """Bounded waits and no retries for Redis, so an outage never hangs a call."""
    if not uri.startswith(("redis", "rediss", "valkey")):
        return {}
    options = bounded_waits(float(config["RATELIMIT_REDIS_TIMEOUT"]))
    return {**options, "key_prefix": config["RATELIMIT_KEY_PREFIX"]}


def limits_storage() -> Storage:
    """This app's storage, made on first use (the factory stays free of it)."""
    app = current_app._get_current_object()
    storage = app.extensions.get("api_limits_storage")
    if storage is None:
        with _init_lock:
            storage = app.extensions.get("api_limits_storage")
            if storage is None:
                uri = app.config["RATELIMIT_STORAGE_URI"]
                storage = storage_from_string(uri, **storage_options(uri, app.config))
                app.extensions["api_limits_storage"] = storage
    return storage


def redis_client():
    """The Redis client of this app's storage, or None when it counts in memory."""
    storage = limits_storage()
    return storage.get_connection() if isinstance(storage, RedisStorage) else None
