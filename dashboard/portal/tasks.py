"""The portal's periodic job: the one-time deprecation notices."""

from huey import crontab

from dashboard.jobs import jobs
from dashboard.portal import notices


@jobs.periodic(lambda config: crontab(minute="23"))
def send_deprecation_notices():
    """Every hour: accounts whose keys called a deprecated tool version in the last 30 days,
    told once per (account, version)."""
    return notices.send_deprecation_notices()
