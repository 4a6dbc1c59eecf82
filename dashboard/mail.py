"""Sending email: through SMTP when MAIL_SERVER is set, else to the terminal and instance/.

The embedded default (`make run`) needs no mail server: each message is printed and appended
to MAIL_OUTBOX_FILE (instance/outbox.txt), where links in it can be copied from. Production
without MAIL_SERVER sends nothing and keeps nothing: one log line says who was not written to
and about what, never the body (its links log in, reset passwords, confirm addresses).
"""

import logging
import smtplib
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app

# What starts each message in the outbox file (dashboard/auth/outbox.py reads them back).
OUTBOX_SEPARATOR = f"{'-' * 72}\n"
logger = logging.getLogger(__name__)


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused the message."""


def build_message(to: str, subject: str, text: str) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2].strip(">"))
    # 7bit keeps links whole and copyable in the terminal and the outbox (no quoted-printable).
    message.set_content(text, cte="7bit" if text.isascii() else "8bit")
    return message


def send_email(to: str, subject: str, text: str) -> None:
    """Send one plain-text message; raises MailNotSent when the SMTP server fails."""
    config = current_app.config
    message = build_message(to, subject, text)
    if not config["MAIL_SERVER"]:
        if config["PRODUCTION"]:
            log_unsent(to, subject)
        else:
            keep_locally(message)
        return
    try:
        with smtplib.SMTP(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
        ) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailNotSent(str(error)) from error


def send_email_or_log(to: str, subject: str, text: str) -> bool:
    """Send, and when the server fails say so in the log instead of failing the page."""
    try:
        send_email(to, subject, text)
    except MailNotSent as error:
        current_app.logger.warning("Email to %s not sent: %s", to, error)
        return False
    return True


def log_unsent(to: str, subject: str) -> None:
    """Production without SMTP: one structured line, without the body or its links."""
    logger.warning(
        "Email not sent: MAIL_SERVER is not set",
        extra={"mail_to": to, "mail_subject": subject},
    )


def keep_locally(message: EmailMessage) -> None:
    """No SMTP server: print the message and append it to the outbox file."""
    text = f"{OUTBOX_SEPARATOR}{message.as_string()}\n"
    print(text, file=sys.stderr, flush=True)
    outbox = current_app.config["MAIL_OUTBOX_FILE"]
    if outbox:
        path = Path(current_app.instance_path) / outbox
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as file:
            file.write(text)


def outbox_page_enabled() -> bool:
    """Whether /outbox shows the local outbox: development only, when mail is kept locally."""
    config = current_app.config
    return bool(
        config["OUTBOX_PAGE"]
        and not config["PRODUCTION"]
        and not config["MAIL_SERVER"]
        and config["MAIL_OUTBOX_FILE"]
    )
