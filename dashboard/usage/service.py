"""A month of usage, read from the rollups (usage_summaries, usage_daily), never tool_logs.

`month_usage` is the one definition of the month's numbers: the usage page and
`GET /api/v1/usage` both show what it returns.
"""

import re
import uuid
from datetime import date, datetime

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import UsageDaily, UsageSummary
from dashboard.plans import plan_named

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BadMonth(ValueError):
    """A month that is not YYYY-MM, or outside the range we keep."""


def parse_month(text: str | None, today: date) -> tuple[date, date]:
    """The first day of the month `YYYY-MM` and of the month after; None means this month."""
    if not text:
        first = today.replace(day=1)
    else:
        match = MONTH_PATTERN.match(text.strip())
        if not match:
            raise BadMonth(f"“{text[:20]}” is not a month. Use the form YYYY-MM, e.g. 2026-03.")
        year, month = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= today.year + 1:
            raise BadMonth(f"{text} is out of range: pick a month between 2000 and next year.")
        first = date(year, month, 1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following


def month_usage(user_id: uuid.UUID, plan_name: str, first: date, following: date) -> dict:
    """The month's calls, tokens, errors, rejections, quota, and per-day and per-tool rows."""
    month_year = first.strftime("%Y-%m")
    summary = db.session.execute(
        sa.select(UsageSummary.total_calls, UsageSummary.total_tokens).where(
            UsageSummary.user_id == user_id, UsageSummary.month_year == month_year
        )
    ).first()
    calls, tokens = (summary.total_calls, summary.total_tokens) if summary else (0, 0)
    in_month = (
        UsageDaily.user_id == user_id,
        UsageDaily.day >= first,
        UsageDaily.day < following,
    )
    totals = sa.func.sum
    day_rows = db.session.execute(
        sa.select(
            UsageDaily.day,
            totals(UsageDaily.calls).label("calls"),
            totals(UsageDaily.errors).label("errors"),
            totals(UsageDaily.tokens).label("tokens"),
            totals(UsageDaily.rejected_rate_limit).label("rejected_rate_limit"),
            totals(UsageDaily.rejected_quota).label("rejected_quota"),
        )
        .where(*in_month)
        .group_by(UsageDaily.day)
        .order_by(UsageDaily.day)
    ).all()
    tool_rows = db.session.execute(
        sa.select(
            UsageDaily.tool_name,
            totals(UsageDaily.calls).label("calls"),
            totals(UsageDaily.errors).label("errors"),
            totals(UsageDaily.tokens).label("tokens"),
        )
        .where(*in_month)
        .group_by(UsageDaily.tool_name)
        .having(totals(UsageDaily.calls) > 0)
        .order_by(totals(UsageDaily.calls).desc(), UsageDaily.tool_name)
    ).all()
    errors = sum(int(row.errors) for row in day_rows)
    plan = plan_named(plan_name)
    return {
        "month": month_year,
        "plan": {"name": plan.name, "monthly_calls": plan.monthly_calls},
        "calls": calls,
        "tokens": tokens,
        "errors": errors,
        "error_rate": round(errors / calls, 4) if calls else 0.0,
        "rejected": {
            "rate_limit": sum(int(row.rejected_rate_limit) for row in day_rows),
            "quota": sum(int(row.rejected_quota) for row in day_rows),
        },
        "quota": {
            "limit": plan.monthly_calls,
            "used": calls,
            "remaining": max(0, plan.monthly_calls - calls),
            "resets_at": datetime(following.year, following.month, 1).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        },
        "days": [
            {
                "date": row.day.isoformat(),
                "calls": int(row.calls),
                "errors": int(row.errors),
                "tokens": int(row.tokens),
                "rejected_rate_limit": int(row.rejected_rate_limit),
                "rejected_quota": int(row.rejected_quota),
            }
            for row in day_rows
        ],
        "tools": [
            {
                "tool": row.tool_name,
                "calls": int(row.calls),
                "errors": int(row.errors),
                "tokens": int(row.tokens),
            }
            for row in tool_rows
        ],
    }
