"""Error groups: failed calls added up by tool, version, error code and message fingerprint.

Metering keeps `error_group_days` (one row per user, day, key and group) in the call's own
transaction, so the inbox adds up a few rows per group and day instead of reading tool_logs.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import ErrorGroupDay, User, utcnow
from dashboard.retention import retention_start

SPARKLINE_DAYS = 14
MAX_GROUPS = 100
# The periods the inbox adds up, in UTC days counted back from today (0: the whole retention).
PERIODS = (1, 7, 30, 90, 0)
DEFAULT_PERIOD = 30
GROUP_COLUMNS = (
    ErrorGroupDay.tool_name,
    ErrorGroupDay.tool_version,
    ErrorGroupDay.error_code,
    ErrorGroupDay.fingerprint,
)


@dataclass
class ErrorGroup:
    """One kind of failure: where (tool, version), what (code, message) and how often."""

    tool_name: str
    tool_version: str
    error_code: str
    fingerprint: str
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    key_ids: set[uuid.UUID] = field(default_factory=set)
    message: str = ""
    sample_log_id: uuid.UUID | None = None
    days: list[int] = field(default_factory=list)  # calls on each of the last SPARKLINE_DAYS
    since: date | None = None  # the first day counted (None: the whole retention)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.tool_name, self.tool_version, self.error_code, self.fingerprint)

    def logs_args(self) -> dict[str, str]:
        """The logs filters that show exactly this group's calls."""
        args = {
            "status": "error",
            "tool": self.tool_name,
            "version": self.tool_version,
            "group": self.fingerprint,
        }
        if self.error_code:
            args["code"] = self.error_code
        if self.since:
            args["from"] = self.since.isoformat()
        return args


@dataclass(frozen=True)
class Period:
    """The period shown, and why it is not the one the URL asked for (None: it is)."""

    days: int  # 0: the plan's whole log retention
    note: str | None = None


def periods_for(retention_days: int) -> list[int]:
    """The periods a plan offers: the fixed ones shorter than its log retention, then the whole
    retention (0). A period as long as the retention or longer would show nothing more."""
    return [days for days in PERIODS if 0 < days < retention_days] + [0]


def default_period(retention_days: int) -> int:
    """DEFAULT_PERIOD when the plan keeps logs longer than that, else the whole retention."""
    return DEFAULT_PERIOD if DEFAULT_PERIOD < retention_days else 0


def parse_period(value: str | None, retention_days: int) -> Period:
    """The period from `?days=`: one the plan offers; any number of days beyond the retention
    is cut to the retention (with a note); anything else gives the default."""
    if not value or not value.isdecimal() or len(value) > 6:
        return Period(default_period(retention_days))
    days = int(value)
    if days in periods_for(retention_days):
        return Period(days)
    if days > retention_days:
        return Period(
            0,
            f"Your plan keeps logs for {retention_days} days, so the errors of the last "
            f"{retention_days} days are shown instead of {days}.",
        )
    if days == retention_days:
        return Period(0)
    return Period(default_period(retention_days))


def first_day(user: User, days: int, now: datetime | None = None) -> date:
    """The first UTC day a period counts: `days` back from today (0: the plan's whole log
    retention), never before the retention's start."""
    now = now or utcnow()
    start_day = retention_start(user, now).date()
    if not days:
        return start_day
    return max(start_day, now.date() - timedelta(days=days - 1))


def position(group: ErrorGroup) -> tuple[datetime, tuple[str, str, str, str]]:
    """Where a group stands in the inbox's order: its last time, then its identity."""
    return (group.last_seen, group.identity)


def newest_first(group: ErrorGroup):
    """The inbox's order: most recently seen first; groups seen at the same instant by identity."""
    return (datetime.max - group.last_seen, group.identity)


def error_groups(
    user: User,
    days: int = DEFAULT_PERIOD,
    now: datetime | None = None,
    limit: int = MAX_GROUPS,
    after: tuple[datetime, tuple[str, str, str, str]] | None = None,
) -> list:
    """The user's error groups of the last `days` UTC days (0: the plan's whole log
    retention), most recently seen first, each with its count, first and last time, keys, a
    sample call and 14 days of counts. `after` (a group's `position`) skips the groups up to
    and including that one: the management API's next page."""
    now = now or utcnow()
    start_day = first_day(user, days, now)
    since = start_day if days else None
    mine = [ErrorGroupDay.user_id == user.id, ErrorGroupDay.day >= start_day]
    per_key = db.session.execute(
        sa.select(
            *GROUP_COLUMNS,
            ErrorGroupDay.api_key_id,
            sa.func.sum(ErrorGroupDay.count),
            sa.func.min(ErrorGroupDay.first_at),
            sa.func.max(ErrorGroupDay.last_at),
        )
        .where(*mine)
        .group_by(*GROUP_COLUMNS, ErrorGroupDay.api_key_id)
    )
    groups: dict[tuple, ErrorGroup] = {}
    for tool, version, code, fingerprint, key_id, count, first_at, last_at in per_key:
        group = groups.setdefault(
            (tool, version, code, fingerprint),
            ErrorGroup(tool, version, code, fingerprint, since=since),
        )
        group.count += int(count)
        group.key_ids.add(key_id)
        group.first_seen = min(filter(None, (group.first_seen, first_at)))
        group.last_seen = max(filter(None, (group.last_seen, last_at)))
    ordered = sorted(groups.values(), key=newest_first)
    if after is not None:
        last_seen, identity = after
        boundary = (datetime.max - last_seen, tuple(identity))
        ordered = [group for group in ordered if newest_first(group) > boundary]
    shown = ordered[:limit]
    add_samples(shown, mine)
    sparkline_rows = [ErrorGroupDay.user_id == user.id]
    add_sparklines(shown, sparkline_rows, now.date())
    return shown


def add_samples(groups: list[ErrorGroup], mine: list) -> None:
    """Each group's latest message and call (the day row that holds its last time)."""
    if not groups:
        return
    wanted = [(*group.identity, group.last_seen) for group in groups]
    rows = db.session.execute(
        sa.select(
            *GROUP_COLUMNS,
            ErrorGroupDay.last_at,
            ErrorGroupDay.message,
            ErrorGroupDay.sample_log_id,
        ).where(*mine, sa.tuple_(*GROUP_COLUMNS, ErrorGroupDay.last_at).in_(wanted))
    )
    by_identity = {group.identity: group for group in groups}
    for tool, version, code, fingerprint, _, message, log_id in rows:
        group = by_identity[(tool, version, code, fingerprint)]
        group.message, group.sample_log_id = message, log_id


def add_sparklines(groups: list[ErrorGroup], mine: list, today: date) -> None:
    """Each group's calls on each of the last SPARKLINE_DAYS days (oldest first)."""
    first_day = today - timedelta(days=SPARKLINE_DAYS - 1)
    for group in groups:
        group.days = [0] * SPARKLINE_DAYS
    if not groups:
        return
    by_identity = {group.identity: group for group in groups}
    rows = db.session.execute(
        sa.select(*GROUP_COLUMNS, ErrorGroupDay.day, sa.func.sum(ErrorGroupDay.count))
        .where(*mine, ErrorGroupDay.day >= first_day)
        .group_by(*GROUP_COLUMNS, ErrorGroupDay.day)
    )
    for tool, version, code, fingerprint, day, count in rows:
        group = by_identity.get((tool, version, code, fingerprint))
        if group is not None:
            group.days[(day - first_day).days] = int(count)


def sparkline_points(days: list[int], width: int = 112, height: int = 24) -> list[dict]:
    """Bars for an inline SVG sparkline: x, y, width and height of each day's bar."""
    peak = max(days, default=0) or 1
    step = width / max(len(days), 1)
    bars = []
    for index, count in enumerate(days):
        bar_height = 0 if count == 0 else max(2.0, height * count / peak)
        bars.append(
            {
                "x": round(index * step + 1, 1),
                "y": round(height - bar_height, 1),
                "width": round(step - 2, 1),
                "height": round(bar_height, 1),
                "count": count,
            }
        )
    return bars
