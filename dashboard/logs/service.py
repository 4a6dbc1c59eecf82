"""Reading a user's call logs: the list's SQL conditions, its keyset pages, refused-call rows,
one call. Filters, paging, export and retention have modules of their own."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import defer

from dashboard.api.codes import ErrorCode
from dashboard.extensions import db
from dashboard.keys.service import keys_of
from dashboard.logs.filters import SINCE_PRESETS, LogFilter
from dashboard.models import ApiKey, RejectedCalls, ToolLog, UsageDaily, User, utcnow
from dashboard.models.types import parse_uuid
from dashboard.paging import Keyset, decode_cursor, encode_cursor
from dashboard.retention import retention_start

PAGE_SIZE = 50
REJECTED_PAGE_SIZE = 100
# The error code each refusal reason is answered with (all with HTTP 429).
# A refused-calls row's reason, and the code (with its status) its calls were answered with.
REJECTION_CODES = {
    "rate_limit": ErrorCode.RATE_LIMITED,
    "quota": ErrorCode.QUOTA_EXCEEDED,
    "key_quota": ErrorCode.KEY_QUOTA_EXCEEDED,
    "concurrency": ErrorCode.CONCURRENCY_LIMITED,
}


def rejection_code(reason: str) -> ErrorCode:
    return REJECTION_CODES.get(reason, ErrorCode.RATE_LIMITED)


# The list's order, newest first; (created_at, id) is unique, so pages never skip a row.
NEWEST_FIRST = Keyset((ToolLog.created_at, ToolLog.id))


def like_pattern(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, with %, _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(user: User, filters: LogFilter) -> list:
    """The WHERE clauses for the user's logs under `filters`, retention included."""
    where = [ToolLog.user_id == user.id, ToolLog.created_at >= retention_start(user)]
    if filters.status == "rejected":
        where.append(sa.false())  # refused calls have no log rows (see rejected_conditions)
    if filters.tool:
        where.append(ToolLog.tool_name == filters.tool)
    if filters.version:
        where.append(ToolLog.tool_version == filters.version)
    if filters.status:
        where.append(ToolLog.status == filters.status)
    if filters.key_id:
        where.append(ToolLog.api_key_id == filters.key_id)
    where.extend(time_conditions(ToolLog.created_at, filters))
    if filters.code:
        where.append(ToolLog.status == "error")  # only failed calls have a code: the status index
        where.append(ToolLog.error_code == filters.code)
    if filters.http_status:
        where.append(ToolLog.status == ("success" if filters.http_status < 400 else "error"))
        where.append(ToolLog.http_status == filters.http_status)
    if filters.fingerprint:
        where.append(ToolLog.error_fingerprint == filters.fingerprint)
    if filters.source:
        where.append(
            ToolLog.source == "playground"
            if filters.source == "playground"
            else sa.or_(ToolLog.source.is_(None), ToolLog.source != "playground")
        )
    if filters.mode:
        where.append(ToolLog.api_key_id.in_(keys_in_mode(user, filters.mode)))
    if filters.q:
        # Only failed calls carry an error message; saying so lets PostgreSQL walk the
        # (user_id, status, created_at, id) index instead of every row of the user.
        where.append(ToolLog.status == "error")
        where.append(ToolLog.error_message.ilike(like_pattern(filters.q), escape="\\"))
    return where


def keys_in_mode(user: User, mode: str) -> sa.Select:
    """The ids of the user's test-mode keys (`test`) or live keys (`live`): a call's mode is its
    key's, so log rows need no column of their own."""
    return sa.select(ApiKey.id).where(ApiKey.user_id == user.id, ApiKey.is_test == (mode == "test"))


def time_conditions(column, filters: LogFilter, now: datetime | None = None) -> list:
    """The date range and the preset (last hour, 24 h, 7 d, 30 d) on a time column."""
    where = []
    if filters.date_from:
        where.append(column >= datetime.combine(filters.date_from, datetime.min.time()))
    if filters.date_to:
        day_after = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
        where.append(column < day_after)
    if filters.since:
        where.append(column >= (now or utcnow()) - SINCE_PRESETS[filters.since])
    return where


def rejected_conditions(user: User, filters: LogFilter) -> list:
    """The WHERE clauses for the user's refused calls (rejected_calls) under `filters`."""
    where = [
        RejectedCalls.user_id == user.id,
        RejectedCalls.minute >= retention_start(user).replace(second=0, microsecond=0),
    ]
    if filters.status in ("success", "error") or filters.version or filters.q:
        where.append(sa.false())  # refused calls have no version, no message, no success
    if filters.fingerprint or filters.source:
        where.append(sa.false())  # no error group, and no source: counted per minute only
    if filters.tool:
        where.append(RejectedCalls.tool_name == filters.tool)
    if filters.key_id:
        where.append(RejectedCalls.api_key_id == filters.key_id)
    if filters.mode:
        where.append(RejectedCalls.api_key_id.in_(keys_in_mode(user, filters.mode)))
    if filters.code:
        reasons = [r for r, code in REJECTION_CODES.items() if code == filters.code]
        where.append(RejectedCalls.reason.in_(reasons) if reasons else sa.false())
    if filters.http_status and filters.http_status not in {
        code.status for code in REJECTION_CODES.values()
    }:
        where.append(sa.false())
    where.extend(time_conditions(RejectedCalls.minute, filters))
    return where


@dataclass(frozen=True)
class RejectedRow:
    """Calls of one key to one tool refused for one reason within one minute."""

    minute: datetime
    last_at: datetime
    tool_name: str
    reason: str
    count: int
    api_key_id: uuid.UUID

    @property
    def error_code(self) -> str:
        return rejection_code(self.reason).value

    @property
    def http_status(self) -> int:
        return rejection_code(self.reason).status


def rejected_rows(user: User, filters: LogFilter, limit: int = REJECTED_PAGE_SIZE) -> list:
    """The newest refused-call aggregates under `filters` (at most `limit`)."""
    rows = db.session.execute(
        sa.select(
            RejectedCalls.minute,
            RejectedCalls.last_at,
            RejectedCalls.tool_name,
            RejectedCalls.reason,
            RejectedCalls.count,
            RejectedCalls.api_key_id,
        )
        .where(*rejected_conditions(user, filters))
        .order_by(RejectedCalls.minute.desc(), RejectedCalls.last_at.desc())
        .limit(limit)
    )
    return [RejectedRow(*row) for row in rows]


def rejected_count(user: User, filters: LogFilter) -> int:
    """How many calls under `filters` were refused before logging (the sum of the counts)."""
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(RejectedCalls.count), 0)).where(
            *rejected_conditions(user, filters)
        )
    )
    return int(total or 0)


@dataclass
class LogPage:
    """One page of logs, newest first, and where the neighbouring pages start."""

    logs: list[ToolLog]
    keys: dict[uuid.UUID, ApiKey]
    next_cursor: str | None  # older rows: ?after=
    prev_cursor: str | None  # newer rows: ?before=
    is_first: bool

    @property
    def newest_cursor(self) -> str | None:
        """The cursor of the first row shown (to ask later whether newer calls arrived)."""
        return encode_cursor(self.logs[0].created_at, self.logs[0].id) if self.logs else None


def list_query():
    """SELECT of log rows without their payloads (the list never shows them)."""
    return sa.select(ToolLog).options(defer(ToolLog.input_payload), defer(ToolLog.output_payload))


def page_of_logs(
    user: User,
    filters: LogFilter,
    cursor: str | None = None,
    direction: str = "next",
    page_size: int = PAGE_SIZE,
) -> LogPage:
    """A page of the user's logs: the newest, the one after `cursor` ("next", older rows) or
    the one before it ("prev", newer rows). BadCursor for a cursor that does not decode."""
    at = decode_cursor(cursor) if cursor else None
    page = NEWEST_FIRST.page(
        list_query(),
        conditions(user, filters),
        at,
        backwards=direction == "prev",
        size=page_size,
        look_back=True,
    )
    return LogPage(
        logs=page.rows,
        keys={key.id: key for key in keys_of(user, deleted=True)},
        next_cursor=encode_cursor(*page.following) if page.following else None,
        prev_cursor=encode_cursor(*page.preceding) if page.preceding else None,
        is_first=page.is_first,
    )


def newer_calls_since(user: User, filters: LogFilter, cursor: str) -> bool:
    """Whether calls matching `filters` arrived after the row at `cursor` (BadCursor if bad)."""
    newer = NEWEST_FIRST.before(decode_cursor(cursor))
    return NEWEST_FIRST.exists(conditions(user, filters), newer, reverse=True)


def has_any_logs(user: User) -> bool:
    """Whether the user has any call within retention (tells 'no calls yet' from 'no match')."""
    newest = (
        sa.select(ToolLog.id)
        .where(ToolLog.user_id == user.id, ToolLog.created_at >= retention_start(user))
        .order_by(ToolLog.created_at.desc(), ToolLog.id.desc())
        .limit(1)
    )
    return db.session.scalar(newest) is not None


def tool_names_of(user: User) -> list[str]:
    """Names of the tools the user has called, from the daily rollup (never a log scan)."""
    return list(
        db.session.scalars(
            sa.select(UsageDaily.tool_name)
            .where(UsageDaily.user_id == user.id)
            .distinct()
            .order_by(UsageDaily.tool_name)
        )
    )


def log_of(user: User, log_id: str) -> ToolLog | None:
    """The user's log row with this id within retention; None for a foreign or malformed id."""
    log_uuid = parse_uuid(log_id)
    if log_uuid is None:
        return None
    return db.session.scalar(
        sa.select(ToolLog).where(
            ToolLog.id == log_uuid,
            ToolLog.user_id == user.id,
            ToolLog.created_at >= retention_start(user),
        )
    )


def pretty_json(payload) -> str:
    """A payload as indented JSON with sorted keys (escaping is the template's job)."""
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)
