"""Usage over a period, read from the rollups (usage_summaries, usage_daily), never tool_logs.

`month_usage` is the one definition of the month's numbers: the usage page and
`GET /api/v1/usage` both show what it returns. The usage page opens on the rolling last 30 days
(`days_usage`, the same numbers summed from usage_daily) and shows any month on request.
Both are a `Usage`, which the API encodes as it is and its OpenAPI schema is derived from.

Every number is billable usage: calls of test-mode keys (`tk_test_…`, api_keys.is_test) are in
usage_daily (their logs and the key's own page need them) but never in usage_summaries, and
every read of usage_daily here leaves them out (`live_rows`); `test_calls` counts them apart,
for the usage page to show them labelled.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, get_args

import msgspec
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary
from dashboard.models.usage import LATENCY_COLUMNS
from dashboard.plans import plan_named

MONTH_PATTERN = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")  # ASCII digits only


ROLLING_DAYS = 30  # the usage page's default period: the last 30 days, today included


# A count in a JSON answer, and texts whose JSON Schema format the document names.
Count = Annotated[int, msgspec.Meta(ge=0)]
DateText = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"})]
DateTimeText = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]


class UsagePlan(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    monthly_calls: Count


class UsageRejected(msgspec.Struct, forbid_unknown_fields=True):
    """Calls refused by the rate limit (and for too many in flight) and by the quota."""

    rate_limit: Count
    quota: Count


class UsageQuota(msgspec.Struct, forbid_unknown_fields=True):
    limit: Count
    used: Count
    remaining: Count
    resets_at: DateTimeText


class UsageDay(msgspec.Struct, forbid_unknown_fields=True):
    date: DateText
    calls: Count
    errors: Count
    tokens: Count
    rejected_rate_limit: Count
    rejected_quota: Count


class UsageTool(msgspec.Struct, forbid_unknown_fields=True):
    tool: str
    calls: Count
    errors: Count
    tokens: Count


class Usage(msgspec.Struct, forbid_unknown_fields=True):
    """Usage over some days (a month, or the rolling days): calls, tokens, errors, rejections,
    the quota of `month`, and per-day and per-tool rows."""

    month: Annotated[str, msgspec.Meta(pattern="^[0-9]{4}-[0-9]{2}$")]
    plan: UsagePlan
    calls: Count
    tokens: Count
    errors: Count
    error_rate: Annotated[float, msgspec.Meta(ge=0, le=1)]
    rejected: UsageRejected
    quota: UsageQuota
    days: list[UsageDay]
    tools: list[UsageTool]


class UsageKeyRef(msgspec.Struct, forbid_unknown_fields=True):
    """The key of a breakdown row; `deleted`: the key was deleted (its calls still count)."""

    id: str
    name: str
    prefix: str
    deleted: bool


class UsageGroup(msgspec.Struct, forbid_unknown_fields=True):
    """One row of a breakdown: the day, key or tool it is for (the others null), its calls,
    errors, tokens and refusals, and the average execution time of its calls."""

    date: DateText | None
    key: UsageKeyRef | None
    tool: str | None
    calls: Count
    errors: Count
    tokens: Count
    rejected_rate_limit: Count
    rejected_quota: Count
    avg_latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None


GroupBy = Literal["day", "key", "tool"]
GROUP_BY = get_args(GroupBy)


class UsageBreakdown(msgspec.Struct, forbid_unknown_fields=True):
    """A month's usage of live keys grouped by day, key or tool, optionally narrowed to one
    key or one tool: days oldest first (days without calls left out), keys and tools busiest
    first."""

    month: Annotated[str, msgspec.Meta(pattern="^[0-9]{4}-[0-9]{2}$")]
    group_by: GroupBy
    key_id: str | None
    tool: str | None
    groups: list[UsageGroup]


class BadMonth(ValueError):
    """A month that is not YYYY-MM, or outside the range we keep."""


@dataclass(frozen=True)
class Period:
    """The days the usage page shows: the last ROLLING_DAYS days, or one calendar month."""

    first: date
    following: date  # the day after the last one
    rolling: bool

    @property
    def last_day(self) -> date:
        return self.following - timedelta(days=1)

    @property
    def label(self) -> str:
        return f"Last {ROLLING_DAYS} days" if self.rolling else self.first.strftime("%B %Y")

    @property
    def name(self) -> str:
        """The period inside a sentence: "the last 30 days", "March 2026"."""
        return f"the {self.label.lower()}" if self.rolling else self.label

    @property
    def span(self) -> str:
        return f"in {self.name}"


def rolling_period(today: date) -> Period:
    """The last ROLLING_DAYS days, today included: a call on the 1st still shows the 29 before."""
    return Period(today - timedelta(days=ROLLING_DAYS - 1), today + timedelta(days=1), True)


def parse_period(month: str | None, today: date) -> Period:
    """The month `YYYY-MM` (parse_month's rules), or the rolling days when none is asked for."""
    if not month:
        return rolling_period(today)
    return Period(*parse_month(month, today), rolling=False)


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


def live_rows(user_id: uuid.UUID, first: date, following: date) -> tuple:
    """The where-clause of the user's usage_daily rows of live keys in [first, following)."""
    live_keys = sa.select(ApiKey.id).where(ApiKey.user_id == user_id, ApiKey.is_test.is_(False))
    return (
        UsageDaily.user_id == user_id,
        UsageDaily.day >= first,
        UsageDaily.day < following,
        UsageDaily.api_key_id.in_(live_keys),
    )


def test_calls(user_id: uuid.UUID, first: date, following: date) -> dict:
    """Calls and errors of the user's test-mode keys in [first, following): not billed, shown
    apart from the usage page's numbers."""
    test_keys = sa.select(ApiKey.id).where(ApiKey.user_id == user_id, ApiKey.is_test.is_(True))
    calls, errors = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(UsageDaily.calls), 0),
            sa.func.coalesce(sa.func.sum(UsageDaily.errors), 0),
        ).where(
            UsageDaily.user_id == user_id,
            UsageDaily.day >= first,
            UsageDaily.day < following,
            UsageDaily.api_key_id.in_(test_keys),
        )
    ).one()
    return {"calls": int(calls), "errors": int(errors)}


def month_calls_and_tokens(user_id: uuid.UUID, first: date) -> tuple[int, int]:
    """The month's calls and tokens from usage_summaries (what the quota counts)."""
    summary = db.session.execute(
        sa.select(UsageSummary.total_calls, UsageSummary.total_tokens).where(
            UsageSummary.user_id == user_id, UsageSummary.month_year == first.strftime("%Y-%m")
        )
    ).first()
    return (summary.total_calls, summary.total_tokens) if summary else (0, 0)


def month_usage(user_id: uuid.UUID, plan_name: str, first: date, following: date) -> Usage:
    """The month's calls, tokens, errors, rejections, quota, and per-day and per-tool rows."""
    calls, tokens = month_calls_and_tokens(user_id, first)
    quota = (first, calls)
    return usage_numbers(user_id, plan_name, first, following, calls, tokens, quota=quota)


def days_usage(
    user_id: uuid.UUID, plan_name: str, first: date, following: date, this_month: date
) -> Usage:
    """month_usage's numbers for days that are not one calendar month (the rolling 30 days):
    calls and tokens summed from usage_daily; the quota is this month's, as the plan counts."""
    calls, tokens = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(UsageDaily.calls), 0),
            sa.func.coalesce(sa.func.sum(UsageDaily.tokens), 0),
        ).where(*live_rows(user_id, first, following))
    ).one()
    quota = (this_month, month_calls_and_tokens(user_id, this_month)[0])
    return usage_numbers(user_id, plan_name, first, following, int(calls), int(tokens), quota=quota)


def usage_numbers(
    user_id: uuid.UUID,
    plan_name: str,
    first: date,
    following: date,
    calls: int,
    tokens: int,
    *,
    quota: tuple[date, int],
) -> Usage:
    """The numbers of the days from `first` until `following`, given their calls and tokens,
    and the quota of (the first day of a month, the calls it counted)."""
    in_month = live_rows(user_id, first, following)
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
    quota_month, used = quota
    resets = shift_month(quota_month, 1)
    return Usage(
        month=quota_month.strftime("%Y-%m"),
        plan=UsagePlan(name=plan.name, monthly_calls=plan.monthly_calls),
        calls=calls,
        tokens=tokens,
        errors=errors,
        error_rate=round(errors / calls, 4) if calls else 0.0,
        rejected=UsageRejected(
            rate_limit=sum(int(row.rejected_rate_limit) for row in day_rows),
            quota=sum(int(row.rejected_quota) for row in day_rows),
        ),
        quota=UsageQuota(
            limit=plan.monthly_calls,
            used=used,
            remaining=max(0, plan.monthly_calls - used),
            resets_at=datetime(resets.year, resets.month, 1).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
        days=[
            UsageDay(
                date=row.day.isoformat(),
                calls=int(row.calls),
                errors=int(row.errors),
                tokens=int(row.tokens),
                rejected_rate_limit=int(row.rejected_rate_limit),
                rejected_quota=int(row.rejected_quota),
            )
            for row in day_rows
        ],
        tools=[
            UsageTool(
                tool=row.tool_name,
                calls=int(row.calls),
                errors=int(row.errors),
                tokens=int(row.tokens),
            )
            for row in tool_rows
        ],
    )


# The usage page's details: the month's rows per day, tool and key, and the 12-month trend.
# Like month_usage, these read only the rollups (usage_daily, usage_summaries).


def month_days(first: date, following: date) -> list[date]:
    """Every day from `first` until `following` (a month, or the rolling days)."""
    return [first + timedelta(days=n) for n in range((following - first).days)]


def shift_month(first: date, months: int) -> date:
    """The first day of the month `months` months after (or before) `first`'s month."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def daily_tool_rows(user_id: uuid.UUID, first: date, following: date) -> list[dict]:
    """Per day and tool: calls, errors, tokens, rejections, execution ms and latency histogram."""
    columns = [getattr(UsageDaily, name) for name in (*COUNTER_COLUMNS, *LATENCY_COLUMNS)]
    rows = db.session.execute(
        sa.select(
            UsageDaily.day,
            UsageDaily.tool_name,
            *(sa.func.sum(column).label(column.key) for column in columns),
        )
        .where(*live_rows(user_id, first, following))
        .group_by(UsageDaily.day, UsageDaily.tool_name)
        .order_by(UsageDaily.day, UsageDaily.tool_name)
    ).all()
    names = [column.key for column in columns]
    return [
        {
            "day": row.day,
            "tool": row.tool_name,
            **dict(zip(names, map(int, row[2:]), strict=True)),
        }
        for row in rows
    ]


def key_breakdown(user_id: uuid.UUID, first: date, following: date) -> list[dict]:
    """Per API key of the user: the month's calls, errors, tokens, rejections, average latency
    (deleted keys too, marked `deleted`: their calls still count)."""
    rows = month_totals_by(
        (ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.deleted_at),
        user_id,
        first,
        following,
        join=(ApiKey, sa.and_(ApiKey.id == UsageDaily.api_key_id, ApiKey.user_id == user_id)),
    )
    return [
        {
            "key_id": str(row.id),
            "name": row.name,
            "prefix": row.prefix,
            "deleted": row.deleted_at is not None,
            **counters(row),
        }
        for row in rows
    ]


def tool_breakdown(user_id: uuid.UUID, first: date, following: date) -> list[dict]:
    """Per tool: the month's calls, errors, tokens, rejections, average latency."""
    rows = month_totals_by((UsageDaily.tool_name,), user_id, first, following)
    return [{"tool": row.tool_name, **counters(row)} for row in rows]


def month_totals_by(group, user_id, first, following, join=None) -> list:
    """The month's usage_daily counters of live keys summed by the `group` columns, busiest
    first."""
    total = sa.func.sum
    query = sa.select(
        *group,
        total(UsageDaily.calls).label("calls"),
        total(UsageDaily.errors).label("errors"),
        total(UsageDaily.tokens).label("tokens"),
        total(UsageDaily.execution_ms_total).label("execution_ms_total"),
        total(UsageDaily.rejected_rate_limit + UsageDaily.rejected_quota).label("rejected"),
    ).select_from(UsageDaily)
    if join is not None:
        query = query.join(*join)
    return db.session.execute(
        query.where(*live_rows(user_id, first, following))
        .group_by(*group)
        .order_by(total(UsageDaily.calls).desc(), *group)
    ).all()


def counters(row) -> dict:
    """A breakdown row's counters; average latency over logged calls (None without calls)."""
    calls = int(row.calls)
    return {
        "calls": calls,
        "errors": int(row.errors),
        "tokens": int(row.tokens),
        "rejected": int(row.rejected),
        "avg_latency_ms": round(int(row.execution_ms_total) / calls, 1) if calls else None,
    }


def monthly_trend(user_id: uuid.UUID, last: date, months: int = 12) -> list[dict]:
    """Calls and tokens for the `months` months that end with `last`'s month, oldest first."""
    firsts = [shift_month(last, n) for n in range(1 - months, 1)]
    labels = [first.strftime("%Y-%m") for first in firsts]
    rows = db.session.execute(
        sa.select(UsageSummary.month_year, UsageSummary.total_calls, UsageSummary.total_tokens)
        .where(UsageSummary.user_id == user_id)
        .where(UsageSummary.month_year >= labels[0], UsageSummary.month_year <= labels[-1])
    ).all()
    found = {row.month_year: row for row in rows}
    return [
        {
            "month": label,
            "calls": int(found[label].total_calls) if label in found else 0,
            "tokens": int(found[label].total_tokens) if label in found else 0,
        }
        for label in labels
    ]


COUNTER_COLUMNS = (
    "calls",
    "errors",
    "tokens",
    "execution_ms_total",
    "rejected_rate_limit",
    "rejected_quota",
)


def daily_series(days: list[date], rows: list[dict]) -> dict:
    """Per-day lists aligned with `days` (zeros where nothing happened) from daily_tool_rows."""
    position = {day: index for index, day in enumerate(days)}
    size = len(days)
    series = {name: [0] * size for name in COUNTER_COLUMNS}
    histograms = [[0] * len(LATENCY_COLUMNS) for _ in days]
    by_tool: dict[str, list[int]] = {}
    for row in rows:
        index = position[row["day"]]
        for name in COUNTER_COLUMNS:
            series[name][index] += row[name]
        for bucket, name in enumerate(LATENCY_COLUMNS):
            histograms[index][bucket] += row[name]
        if row["calls"]:
            by_tool.setdefault(row["tool"], [0] * size)[index] += row["calls"]
    return {"days": days, **series, "histograms": histograms, "by_tool": by_tool}


def usage_report(user_id: uuid.UUID, plan_name: str, period: Period, today: date) -> dict:
    """Everything the usage page shows for a period: its numbers (month_usage's for a month,
    days_usage's for the rolling days) plus the details."""
    first, following = period.first, period.following
    this_month = today.replace(day=1)
    if period.rolling:
        summary = days_usage(user_id, plan_name, first, following, this_month)
    else:
        summary = month_usage(user_id, plan_name, first, following)
    series = daily_series(month_days(first, following), daily_tool_rows(user_id, first, following))
    histogram = [sum(bucket) for bucket in zip(*series["histograms"], strict=True)]
    return {
        "summary": summary,
        "series": series,
        "histogram": histogram,
        "keys": key_breakdown(user_id, first, following),
        "tools": tool_breakdown(user_id, first, following),
        "trend": monthly_trend(user_id, this_month if period.rolling else first),
        "test": test_calls(user_id, first, following),
    }


def _any(*where) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(*where))))


def first_run_steps(user_id: uuid.UUID) -> dict[str, bool] | None:
    """The three first steps and which are done, until the account's first successful API call
    (its own key, not the playground's); None from then on."""
    own_call = sa.or_(ToolLog.source.is_(None), ToolLog.source != "playground")
    own_keys = sa.select(ApiKey.id).where(
        ApiKey.user_id == user_id, ApiKey.is_playground.is_(False)
    )
    # The rollups too: they outlive the logs' retention, so the card never comes back.
    if _any(ToolLog.user_id == user_id, ToolLog.status == "success", own_call) or _any(
        UsageDaily.user_id == user_id,
        UsageDaily.calls > UsageDaily.errors,
        UsageDaily.api_key_id.in_(own_keys),
    ):
        return None
    return {
        "playground": _any(ToolLog.user_id == user_id, ToolLog.source == "playground"),
        "key": _any(ApiKey.user_id == user_id, ApiKey.is_playground.is_(False)),
        "call": False,
    }


def usage_breakdown(
    user_id: uuid.UUID,
    first: date,
    following: date,
    group_by: str,
    *,
    key_id: uuid.UUID | None = None,
    tool: str | None = None,
) -> UsageBreakdown:
    """The month's usage_daily counters grouped by `group_by` (`day`, `key` or `tool`), for one
    key or tool when asked. Only live keys' calls count: a test-mode key's calls are in
    usage_daily (the logs page shows them) but never in billable usage. Deleted keys' calls
    count, their key marked `deleted`."""
    total = sa.func.sum
    grouped = {
        "day": (UsageDaily.day,),
        "key": (ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.deleted_at),
        "tool": (UsageDaily.tool_name,),
    }[group_by]
    where = [
        UsageDaily.user_id == user_id,
        UsageDaily.day >= first,
        UsageDaily.day < following,
        ApiKey.is_test.is_(False),
    ]
    if key_id is not None:
        where.append(UsageDaily.api_key_id == key_id)
    if tool is not None:
        where.append(UsageDaily.tool_name == tool)
    calls = total(UsageDaily.calls)
    order = (UsageDaily.day,) if group_by == "day" else (calls.desc(), *grouped)
    rows = db.session.execute(
        sa.select(
            *grouped,
            calls.label("calls"),
            total(UsageDaily.errors).label("errors"),
            total(UsageDaily.tokens).label("tokens"),
            total(UsageDaily.rejected_rate_limit).label("rejected_rate_limit"),
            total(UsageDaily.rejected_quota).label("rejected_quota"),
            total(UsageDaily.execution_ms_total).label("execution_ms_total"),
        )
        .select_from(UsageDaily)
        .join(ApiKey, sa.and_(ApiKey.id == UsageDaily.api_key_id, ApiKey.user_id == user_id))
        .where(*where)
        .group_by(*grouped)
        .order_by(*order)
    ).all()
    return UsageBreakdown(
        month=first.strftime("%Y-%m"),
        group_by=group_by,
        key_id=str(key_id) if key_id else None,
        tool=tool,
        groups=[usage_group(row, group_by) for row in rows],
    )


def usage_group(row, group_by: str) -> UsageGroup:
    calls = int(row.calls)
    return UsageGroup(
        date=row.day.isoformat() if group_by == "day" else None,
        key=UsageKeyRef(
            id=str(row.id), name=row.name, prefix=row.prefix, deleted=row.deleted_at is not None
        )
        if group_by == "key"
        else None,
        tool=row.tool_name if group_by == "tool" else None,
        calls=calls,
        errors=int(row.errors),
        tokens=int(row.tokens),
        rejected_rate_limit=int(row.rejected_rate_limit),
        rejected_quota=int(row.rejected_quota),
        avg_latency_ms=round(int(row.execution_ms_total) / calls, 1) if calls else None,
    )
