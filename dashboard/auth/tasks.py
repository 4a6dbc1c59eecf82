"""The job behind "Forgot your password?": the page queues it for every address alike, and the
worker looks the address up and talks to the mail server. So the page does the same work, and
takes as long, whether or not an account uses the address."""

import logging

from dashboard.auth.emails import send_password_reset
from dashboard.auth.service import user_by_email
from dashboard.jobs import jobs

logger = logging.getLogger(__name__)


@jobs.task
def send_reset_link(email: str) -> bool:
    """Email a reset link to the active account that uses `email`, if there is one."""
    user = user_by_email(email)
    if user is None or user.is_disabled:
        return False
    return send_password_reset(user)


def queue_reset_link(email: str) -> None:
    """Queue send_reset_link; if the queue is down, say so in the log (the page answers as
    always, as it did when the mail server was down)."""
    try:
        jobs.enqueue(send_reset_link, email)
    except Exception:  # Redis or the SQLite queue away: no 500, and nothing told apart
        logger.exception("Could not queue a password-reset mail")
