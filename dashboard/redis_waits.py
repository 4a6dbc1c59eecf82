"""Every Redis client the app makes waits a bounded time and never retries on its own.

redis-py waits forever by default (no socket timeouts) and, since 6.0, retries a failed command
three times with backoff: a Redis that hangs would hold every request that touches it. Sessions,
the form limiter, the API's limits and the job queue all take their options from here.
"""

from redis.backoff import NoBackoff
from redis.retry import Retry


def bounded_waits(timeout: float) -> dict:
    """redis-py connection options: connect and each answer within `timeout` s, no retries."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
