"""The one-time deprecation notice: the accounts whose keys called a deprecated tool version in
the last 30 days are told once, by email and an alert, per (account, tool version).

A periodic job (dashboard.portal.tasks) runs `send_deprecation_notices`; a row in
`deprecation_notices` records each notice, and its primary key makes it one, whichever worker
gets there first.
"""

import logging
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.alerts.service import raise_alert
from dashboard.dialects import upsert
from dashboard.extensions import db
from dashboard.models import DeprecationNotice, ToolLog, UsageDaily, utcnow
from dashboard.tools.served import load_active_tools
from dashboard.tools.tool import ToolVersion

DEPRECATED_EVENT = "tool.deprecated"
# Whose calls count: keys that called the version within this window.
RECENT_CALLS = timedelta(days=30)

log = logging.getLogger(__name__)


def deprecated_versions(today: date) -> list[ToolVersion]:
    """The served versions deprecated by today (retired ones too: their callers still need
    telling)."""
    return [
        tool
        for tool in load_active_tools().all()
        if tool.deprecated_on is not None and tool.deprecated_on <= today
    ]


def send_deprecation_notices(now=None) -> int:
    """Tell each account whose keys called a deprecated version in the last 30 days, once per
    (account, version): record the notice, then raise the alert (emailed to the account's
    contacts whatever its alert settings: it is about the service, like a leaked key). The
    number of notices sent."""
    now = now or utcnow()
    sent = 0
    for tool in deprecated_versions(now.date()):
        for user_id in callers(tool, now):
            sent += notify(user_id, tool, now)
    return sent


def callers(tool: ToolVersion, now) -> list:
    """The accounts not yet told whose keys called this version in the last 30 days.

    tool_logs has no index by tool, so the accounts that called the tool at all come from
    usage_daily (one row per account, day, key and tool), and each is then checked in its own
    logs through tool_logs' (user_id, created_at) index, stopping at the first call found.
    """
    since = now - RECENT_CALLS
    told = sa.select(DeprecationNotice.user_id).where(
        DeprecationNotice.tool_name == tool.name,
        DeprecationNotice.tool_version == tool.version,
    )
    called_version = (
        sa.select(ToolLog.id)
        .where(
            ToolLog.user_id == UsageDaily.user_id,
            ToolLog.created_at >= since,
            ToolLog.tool_name == tool.name,
            ToolLog.tool_version == tool.version,
            ToolLog.source.is_(None),  # the API, not the dashboard's playground
        )
        .exists()
    )
    return list(
        db.session.scalars(
            sa.select(UsageDaily.user_id)
            .where(
                UsageDaily.tool_name == tool.name,
                UsageDaily.day >= since.date(),
                UsageDaily.user_id.not_in(told),
                called_version,
            )
            .distinct()
        )
    )


def notify(user_id, tool: ToolVersion, now) -> bool:
    """Record the notice for (account, version) and raise its alert, unless recorded before."""
    statement = (
        upsert(DeprecationNotice)
        .values(user_id=user_id, tool_name=tool.name, tool_version=tool.version, sent_at=now)
        .on_conflict_do_nothing()
        .returning(DeprecationNotice.user_id)
    )
    recorded = db.session.execute(statement).scalar_one_or_none() is not None
    db.session.commit()
    if not recorded:
        return False
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    data = {
        "tool": tool.name,
        "version": tool.version,
        "deprecated_on": tool.deprecated_on.isoformat(),
        "sunset_on": tool.sunset_on.isoformat() if tool.sunset_on else None,
        "replacement": tool.replacement,
        "changelog_url": f"{base}/docs/changelog",
    }
    dedupe = f"tool_deprecated:{tool.name}:{tool.version}"
    raise_alert(user_id, DEPRECATED_EVENT, dedupe, data, force_email=True)
    log.info("Deprecation notice for %s %s sent to account %s", tool.name, tool.version, user_id)
    return True
