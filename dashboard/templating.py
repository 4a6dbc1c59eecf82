"""Filters and globals that templates share."""

import json
from datetime import datetime
from email.utils import parseaddr
from typing import NamedTuple

from flask import Flask, current_app, request

from dashboard.models import utcnow
from dashboard.plans import plan_named


def fragment_request() -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def exact_time(value: datetime | None) -> str:
    """`2026-11-25 14:03:07 UTC`, or an em dash for no time."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value) -> str:
    """A JSON value indented for reading, keys in their own order (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def iso_time(value: datetime | None) -> str:
    """ISO 8601 with a Z, for <time datetime="...">."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: `just now`, `5 min ago`, `in 3 days`, `never`."""
    if value is None:
        return "never"
    now = now or utcnow()
    seconds = (value - now).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now" if not future else "in a few seconds"
    for limit, size, unit in (
        (3600, 60, "min"),
        (86400, 3600, "h"),
        (86400 * 45, 86400, "day"),
        (86400 * 365, 86400 * 30, "month"),
        (float("inf"), 86400 * 365, "year"),
    ):
        if seconds < limit:
            count = max(1, round(seconds / size))
            label = unit if unit in ("min", "h") or count == 1 else unit + "s"
            return f"in {count} {label}" if future else f"{count} {label} ago"
    return exact_time(value)  # unreachable: the last limit is infinite


def thousands(value: int | float | None) -> str:
    """12,345 — or an em dash for no value."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


class Contact(NamedTuple):
    href: str
    label: str


def support_contact() -> Contact:
    """How customers reach support (SUPPORT_CONTACT: an address or an https URL; by default the
    address emails come from), for pages that send them there (plans, limits)."""
    setting = current_app.config["SUPPORT_CONTACT"].strip()
    if setting.startswith(("https://", "http://")):
        return Contact(setting, "contact support")
    address = parseaddr(setting or current_app.config["MAIL_FROM"])[1]
    return Contact(f"mailto:{address}", address)


def register(app: Flask) -> None:
    """Install the filters on `app`."""
    app.add_template_filter(exact_time)
    app.add_template_filter(iso_time)
    app.add_template_filter(relative_time)
    app.add_template_filter(thousands)
    app.add_template_filter(pretty_json)
    app.add_template_global(plan_named)
    app.add_template_global(support_contact)
