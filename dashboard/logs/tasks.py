"""The daily log purge, run by the queue's scheduler (`flask logs purge` still runs it by hand)."""

import logging

from huey import crontab

from dashboard.jobs import jobs
from dashboard.retention import purge_expired_logs

logger = logging.getLogger(__name__)


@jobs.periodic(lambda config: crontab(minute="0", hour=str(config["JOBS_PURGE_LOGS_HOUR"])))
def purge_logs():
    """Delete logs older than their owner's plan retention, once a day."""
    deleted = purge_expired_logs()
    logger.info("Purged %s log rows past their plan's retention", deleted)
    return deleted
