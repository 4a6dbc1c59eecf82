"""The development outbox: the messages `make run` printed and kept in MAIL_OUTBOX_FILE, on a
page, so signing up and resetting a password need no mailbox.

Only where OUTBOX_PAGE is on (development's default; off in tests unless a test turns it on) and
never in production, whatever the setting: the outbox holds every account's live links.
"""

import email
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path

from flask import abort, current_app, render_template

from dashboard.auth.routes import bp
from dashboard.mail import OUTBOX_SEPARATOR, outbox_page_enabled

SHOWN = 20  # the newest messages
TAIL_BYTES = 512 * 1024  # read no more of a long outbox than its end
LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class KeptMessage:
    to: str
    subject: str
    parts: list[tuple[str, str]]  # ("text", words) or ("link", url), in order


def outbox_path() -> Path:
    return Path(current_app.instance_path) / current_app.config["MAIL_OUTBOX_FILE"]


def split_links(text: str) -> list[tuple[str, str]]:
    """The body as plain text and links, so the page can make the links clickable."""
    parts, start = [], 0
    for match in LINK.finditer(text):
        parts += [("text", text[start : match.start()]), ("link", match.group())]
        start = match.end()
    return [*parts, ("text", text[start:])]


def newest_messages(path: Path, count: int = SHOWN) -> list[KeptMessage]:
    """The last `count` messages kept in the outbox file, newest first."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, 2) - TAIL_BYTES))
            text = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    chunks = [chunk for chunk in text.split(OUTBOX_SEPARATOR) if chunk.strip()]
    messages = []
    for chunk in reversed(chunks[-count:]):
        parsed = email.message_from_string(chunk.lstrip("\n"), policy=email.policy.default)
        try:
            body = parsed.get_content() if not parsed.is_multipart() else chunk
        except (LookupError, ValueError):  # a chunk cut by TAIL_BYTES, or hand-edited
            body = chunk
        messages.append(
            KeptMessage(str(parsed["To"] or ""), str(parsed["Subject"] or ""), split_links(body))
        )
    return messages


@bp.get("/outbox")
def outbox():
    """The newest messages of the local outbox (development only)."""
    if not outbox_page_enabled():
        abort(404)
    path = outbox_path()
    return render_template(
        "auth/outbox.html", messages=newest_messages(path), path=path, shown=SHOWN
    )
