"""The alert jobs: a quota threshold crossed (queued by the hot path) and the periodic checks."""

import uuid

from huey import crontab

from dashboard.alerts import service
from dashboard.extensions import db
from dashboard.jobs import jobs
from dashboard.models import ApiKey
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
def key_quota_reached(user_id: str, key_id: str, month: str, calls: int, cap: int):
    """Raise key.quota_reached for (key, month) unless already raised."""
    user_id = uuid.UUID(user_id)
    if not service.settings_for(user_id).quota:
        return False
    key = db.session.get(ApiKey, uuid.UUID(key_id))
    if key is None:
        return False
    data = {"month": month, "calls": calls, "cap": cap, **service.key_data(key)}
    return service.raise_alert(user_id, "key.quota_reached", f"key_quota:{key_id}:{month}", data)


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
