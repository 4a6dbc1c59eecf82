"""The hourly purge of idempotent answers past their window, run by the queue's scheduler
(`flask keys purge-idempotency` runs it by hand)."""

import logging

from huey import crontab

from dashboard.jobs import jobs
from dashboard.keys.idempotency import purge_idempotent_requests

logger = logging.getLogger(__name__)


@jobs.periodic(lambda config: crontab(minute="23"))
def purge_idempotency():
    """Every hour: delete idempotent answers older than IDEMPOTENCY_KEEP_HOURS."""
    deleted = purge_idempotent_requests()
    logger.info("Purged %s idempotent answers past their window", deleted)
    return deleted
