"""Sending email: SMTP when MAIL_SERVER is set, else the terminal and instance/mail.log."""

import smtplib
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


def send_email(to: str, subject: str, text: str) -> None:
    """Send a plain-text email; raises smtplib.SMTPException/OSError when the server refuses."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if not config["MAIL_SERVER"]:
        write_to_terminal_and_file(message)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def write_to_terminal_and_file(message: EmailMessage) -> None:
    """The embedded default: print the message and append it to instance/mail.log."""
    text = message.as_string()
    print(text, flush=True)
    path = Path(current_app.instance_path) / "mail.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as outbox:
        outbox.write(text + "\n")
