"""The alert jobs: a quota threshold crossed (queued by the hot path) and the periodic checks."""

import uuid

from huey import crontab

from dashboard.alerts import key_events, service
from dashboard.jobs import jobs
from dashboard.plans import plan_named


@jobs.task
def quota_threshold_reached(user_id: str, month: str, threshold: int, calls: int, plan: str):
    """Raise quota.threshold_reached for (account, month, threshold) unless already raised."""
    user_id = uuid.UUID(user_id)
    if not service.settings_for(user_id).quota:
        return False
    data = {
        "month": month,
        "threshold": threshold,
        "calls": calls,
        "quota": plan_named(plan).monthly_calls,
        "plan": plan_named(plan).title,
    }
    return service.raise_alert(
        user_id, "quota.threshold_reached", f"quota:{month}:{threshold}", data
    )


@jobs.task
def key_quota_reached(account_id: str, key_id: str, month: str, cap: int):
    """Raise key.quota_reached for (key, month, cap) unless already raised (for the hot path
    to queue when a key's own monthly cap is reached)."""
    return key_events.key_quota_reached(uuid.UUID(account_id), key_id, month, cap)


@jobs.periodic(lambda config: crontab(minute="*/5"))
def check_expired_keys():
    """Every 5 minutes: keys that reached their expiry date (key.expired, actor: system)."""
    return key_events.check_expired_keys()


@jobs.periodic(lambda config: crontab(minute="*"))
def check_error_rates():
    """Every minute: accounts whose last 15 minutes of calls failed too often."""
    return service.check_error_rates()


@jobs.periodic(lambda config: crontab(minute="*"))
def check_new_ips():
    """Every minute: watched keys used from an IP never seen for them."""
    return service.check_new_ips()


@jobs.periodic(lambda config: crontab(minute="7"))
def check_expiring_keys():
    """Every hour: keys that expire within 7 days."""
    return service.check_expiring_keys()
