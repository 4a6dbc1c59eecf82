"""The hot path's one call into alerts: has this call crossed a quota threshold, the account's
or its key's own monthly cap?

It reads only what the metering statement already returned (the month's calls after this one),
what the limits step counted against the key's cap, and the plan from the cached key row: no
query. A crossing queues a job; the job decides in the
database whether the alert was already raised this month, so many workers crossing at the same
moment raise it exactly once. The in-process memo only saves queueing the same job again.
"""

import logging
import math

from cachetools import TTLCache

from dashboard.alerts.tasks import key_quota_reached, quota_threshold_reached
from dashboard.jobs import jobs
from dashboard.plans import plan_named

QUOTA_THRESHOLDS = (50, 80, 100)
logger = logging.getLogger(__name__)
_queued: TTLCache = TTLCache(maxsize=100_000, ttl=3600)


def threshold_reached(month_calls: int, quota: int) -> int | None:
    """The highest threshold (percent) that `month_calls` has reached, or None."""
    reached = [t for t in QUOTA_THRESHOLDS if month_calls >= math.ceil(quota * t / 100)]
    return reached[-1] if reached else None


def after_metered_call(key, recorded, verdict=None) -> None:
    """Queue a quota alert when the month's count has reached a threshold not queued yet here,
    and a key quota alert when this call (counted by the limits' `verdict`) reached the key's
    monthly cap. A call that is not billable (month_calls None) crosses no account threshold."""
    if reached_key_cap(verdict):
        queue_once(
            ("key", key.id, recorded.month_year, verdict.key_cap),
            key_quota_reached,
            str(key.user_id),
            str(key.id),
            recorded.month_year,
            verdict.key_cap,
        )
    if recorded.month_calls is None:
        return
    plan = plan_named(key.subscription_plan)
    threshold = threshold_reached(recorded.month_calls, plan.monthly_calls)
    if threshold is None:
        return
    memo = (key.user_id, recorded.month_year, threshold)
    queue_once(
        memo,
        quota_threshold_reached,
        str(key.user_id),
        recorded.month_year,
        threshold,
        recorded.month_calls,
        plan.name,
    )


def reached_key_cap(verdict) -> bool:
    """Did the call the limits let through (`verdict`) bring its key to its monthly cap?"""
    if verdict is None or verdict.key_cap is None or verdict.key_month_calls is None:
        return False
    return verdict.key_month_calls >= verdict.key_cap


def queue_once(memo: tuple, task, *args) -> None:
    """Queue `task(*args)` unless this process queued it (memo) within the hour."""
    if memo in _queued:
        return
    _queued[memo] = True
    try:
        jobs.enqueue(task, *args)
    except Exception:  # the queue being down must not fail the customer's call
        _queued.pop(memo, None)
        logger.exception("Could not queue the alert %s", memo)
