"""Reading a user's call logs: filters, keyset pages, one call, the CSV export, retention."""

import base64
import binascii
import csv
import io
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import defer

from dashboard.extensions import db
from dashboard.keys.service import keys_of
from dashboard.models import ApiKey, RejectedCalls, ToolLog, UsageDaily, User, utcnow
from dashboard.models.types import parse_uuid
from dashboard.plans import plan_named
from dashboard.tools.service import curl_command

PAGE_SIZE = 50
# `rejected`: calls refused before they were logged (rate limit, quota, concurrency), shown
# as one row per key, tool, reason and minute with a count (rejected_calls).
STATUSES = ("success", "error", "rejected")
REJECTED_PAGE_SIZE = 100
# The error code each refusal reason is answered with (all with HTTP 429).
REJECTION_CODES = {
    "rate_limit": "rate_limited",
    "quota": "quota_exceeded",
    "concurrency": "concurrency_limited",
}
REJECTION_STATUS = 429
# Date presets: the last hour, day, week, month, counted back from now.
SINCE_PRESETS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# Where a logged call came from (tool_logs.source: NULL for the API, `playground`); refused
# calls are counted per minute without one, so a source filter leaves them out.
SOURCES = ("api", "playground")
MAX_TEXT_FILTER = 200
EXPORT_BATCH = 1000
FIRST_CALL_INPUT = {"message": "Hello, tools API!"}
EXPORT_COLUMNS = (
    "created_at",
    "request_id",
    "tool",
    "version",
    "status",
    "error_code",
    "key_name",
    "key_prefix",
    "execution_time_ms",
    "tokens",
    "error_message",
    # Revision 0004, after the first columns so that existing readers keep their positions.
    "http_status",
    "calls",  # 1 for a logged call; the count of a refused-calls row
    "source",  # api | playground
)


class BadCursor(ValueError):
    """A page cursor that was not made by `encode_cursor` (tampered, truncated, garbage)."""


@dataclass
class LogFilter:
    """The list's filters; `problems` says which given values were ignored and why."""

    tool: str | None = None
    version: str | None = None
    status: str | None = None
    key_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    code: str | None = None
    http_status: int | None = None
    fingerprint: str | None = None
    since: str | None = None  # a key of SINCE_PRESETS
    source: str | None = None  # one of SOURCES
    problems: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # URL parameters whose value was ignored
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True when any filter narrows the list."""
        return any(value is not None for value in self.query_args().values())

    def reject(self, param: str, message: str) -> None:
        """Ignore the value of `param` and say why."""
        self.invalid.add(param)
        self.problems.append(message)

    def query_args(self) -> dict[str, str]:
        """The valid filters as URL parameters (for links that keep them)."""
        args = {
            "tool": self.tool,
            "version": self.version,
            "status": self.status,
            "key": str(self.key_id) if self.key_id else None,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q,
            "code": self.code,
            "http": str(self.http_status) if self.http_status else None,
            "group": self.fingerprint,
            "since": self.since,
            "source": self.source,
        }
        return {name: value for name, value in args.items() if value is not None}


def parse_filters(args: Mapping[str, str], user: User) -> LogFilter:
    """Read the filters from request.args; a bad value is ignored and explained in `problems`."""
    raw = {name: (args.get(name) or "").strip() for name in FILTER_PARAMS}
    filters = LogFilter(raw=raw)
    for name in ("tool", "version", "q", "code", "group"):
        value = raw[name]
        if len(value) > MAX_TEXT_FILTER:
            label = FILTER_LABELS[name]
            filters.reject(name, f"The {label} filter is too long; it was ignored.")
        elif value:
            setattr(filters, FILTER_ATTRIBUTES.get(name, name), value)
    if raw["status"]:
        if raw["status"] in STATUSES:
            filters.status = raw["status"]
        else:
            filters.reject(
                "status", "Status must be success, error or rejected; that filter was ignored."
            )
    if raw["http"]:
        if raw["http"].isdigit() and 100 <= int(raw["http"]) <= 599:
            filters.http_status = int(raw["http"])
        else:
            filters.reject("http", "HTTP status must be a number like 422; it was ignored.")
    if raw["since"]:
        if raw["since"] in SINCE_PRESETS:
            filters.since = raw["since"]
        else:
            filters.reject("since", "The period must be 1h, 24h, 7d or 30d; it was ignored.")
    if raw["source"]:
        if raw["source"] in SOURCES:
            filters.source = raw["source"]
        else:
            filters.reject("source", "The source must be api or playground; it was ignored.")
    if raw["key"]:
        filters.key_id = own_key_id(user, raw["key"])
        if filters.key_id is None:
            filters.reject("key", "That key is not one of your keys; the key filter was ignored.")
    for name, attribute in (("from", "date_from"), ("to", "date_to")):
        if raw[name]:
            try:
                setattr(filters, attribute, date.fromisoformat(raw[name]))
            except ValueError:
                label = FILTER_LABELS[name]
                filters.reject(name, f"The {label} date must look like 2025-01-31; it was ignored.")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        filters.reject("from", "The from date is after the to date; the date range was ignored.")
        filters.invalid.add("to")
        filters.date_from = filters.date_to = None
    return filters


FILTER_PARAMS = (
    "tool",
    "version",
    "status",
    "key",
    "from",
    "to",
    "q",
    "code",
    "http",
    "group",
    "since",
    "source",
)
FILTER_ATTRIBUTES = {"group": "fingerprint"}
FILTER_LABELS = {
    "tool": "tool",
    "version": "version",
    "q": "error search",
    "code": "error code",
    "group": "error group",
    "from": "from",
    "to": "to",
}


def own_key_id(user: User, value: str) -> uuid.UUID | None:
    """The id of the user's key written as `value`; None for a malformed or foreign id."""
    try:
        key_id = uuid.UUID(value)
    except ValueError:
        return None
    owned = db.session.scalar(
        sa.select(ApiKey.id).where(ApiKey.id == key_id, ApiKey.user_id == user.id)
    )
    return owned


def retention_start(user: User, now: datetime | None = None) -> datetime:
    """The oldest created_at the user's plan still shows."""
    return (now or utcnow()) - timedelta(days=plan_named(user.subscription_plan).log_retention_days)


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
    if filters.q:
        # Only failed calls carry an error message; saying so lets PostgreSQL walk the
        # (user_id, status, created_at, id) index instead of every row of the user.
        where.append(ToolLog.status == "error")
        where.append(ToolLog.error_message.ilike(like_pattern(filters.q), escape="\\"))
    return where


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
    if filters.code:
        reasons = [r for r, code in REJECTION_CODES.items() if code == filters.code]
        where.append(RejectedCalls.reason.in_(reasons) if reasons else sa.false())
    if filters.http_status and filters.http_status != REJECTION_STATUS:
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
        return REJECTION_CODES.get(self.reason, self.reason)

    @property
    def http_status(self) -> int:
        return REJECTION_STATUS


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


# Cursors: an opaque, URL-safe token for the position (created_at, id) of one row.


def encode_cursor(created_at: datetime, log_id: uuid.UUID) -> str:
    """The cursor for a row: urlsafe base64 of `iso|uuid`, without padding."""
    text = f"{created_at.isoformat()}|{log_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) inside a cursor; BadCursor for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        moment, log_id = text.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is not None:
            raise ValueError("cursor times are naive UTC")
        return created_at, uuid.UUID(log_id)
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise BadCursor(cursor) from error


def cursor_of(log: ToolLog) -> str:
    """The cursor of a row."""
    return encode_cursor(log.created_at, log.id)


def older_than(cursor: tuple[datetime, uuid.UUID]):
    """Rows after `cursor` in newest-first order: (created_at, id) < cursor, as a row value."""
    return sa.tuple_(ToolLog.created_at, ToolLog.id) < position(cursor)


def newer_than(cursor: tuple[datetime, uuid.UUID]):
    """Rows before `cursor` in newest-first order: (created_at, id) > cursor."""
    return sa.tuple_(ToolLog.created_at, ToolLog.id) > position(cursor)


def position(cursor: tuple[datetime, uuid.UUID]):
    """A cursor as a typed row value, to compare with (created_at, id)."""
    created_at, log_id = cursor
    return sa.tuple_(
        sa.literal(created_at, ToolLog.created_at.type), sa.literal(log_id, ToolLog.id.type)
    )


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
        return cursor_of(self.logs[0]) if self.logs else None


def list_query(where: list):
    """SELECT of log rows without their payloads (the list never shows them)."""
    return (
        sa.select(ToolLog)
        .where(*where)
        .options(defer(ToolLog.input_payload), defer(ToolLog.output_payload))
    )


def newer_exists(where: list, cursor: tuple[datetime, uuid.UUID]) -> bool:
    """Whether any row under `where` comes after `cursor`. Asking for the nearest such row in
    index order (not a bare EXISTS, which the planner may answer with a sequential scan) keeps
    this one step down the (created_at, id) index."""
    nearest = (
        sa.select(ToolLog.id)
        .where(*where, newer_than(cursor))
        .order_by(ToolLog.created_at.asc(), ToolLog.id.asc())
        .limit(1)
    )
    return db.session.scalar(nearest) is not None


def older_exists(where: list, cursor: tuple[datetime, uuid.UUID]) -> bool:
    """Whether any row under `where` comes before `cursor` (the nearest one, by the index)."""
    nearest = (
        sa.select(ToolLog.id)
        .where(*where, older_than(cursor))
        .order_by(ToolLog.created_at.desc(), ToolLog.id.desc())
        .limit(1)
    )
    return db.session.scalar(nearest) is not None


def page_of_logs(
    user: User,
    filters: LogFilter,
    cursor: str | None = None,
    direction: str = "next",
    page_size: int = PAGE_SIZE,
) -> LogPage:
    """A page of the user's logs: the newest, the one after `cursor` ("next", older rows) or
    the one before it ("prev", newer rows). BadCursor for a cursor that does not decode."""
    where = conditions(user, filters)
    keys = {key.id: key for key in keys_of(user)}
    at = decode_cursor(cursor) if cursor else None
    if at is not None and direction == "prev":
        rows = list(
            db.session.scalars(
                list_query([*where, newer_than(at)])
                .order_by(ToolLog.created_at.asc(), ToolLog.id.asc())
                .limit(page_size + 1)
            )
        )
        if len(rows) <= page_size:  # reached the top: show the full newest page instead
            return page_of_logs(user, filters, None, "next", page_size)
        logs = rows[:page_size][::-1]
        has_older = older_exists(where, (logs[-1].created_at, logs[-1].id))
        return LogPage(
            logs=logs,
            keys=keys,
            next_cursor=cursor_of(logs[-1]) if has_older else None,
            prev_cursor=cursor_of(logs[0]),
            is_first=False,
        )
    stmt = list_query([*where, older_than(at)] if at else where)
    rows = list(
        db.session.scalars(
            stmt.order_by(ToolLog.created_at.desc(), ToolLog.id.desc()).limit(page_size + 1)
        )
    )
    logs = rows[:page_size]
    if at is None:
        has_newer = False
    elif logs:
        has_newer = newer_exists(where, (logs[0].created_at, logs[0].id))
    else:
        has_newer = newer_exists(where, at)
    return LogPage(
        logs=logs,
        keys=keys,
        next_cursor=cursor_of(logs[-1]) if len(rows) > page_size else None,
        prev_cursor=(cursor_of(logs[0]) if logs else cursor) if has_newer else None,
        is_first=at is None,
    )


def newer_calls_since(user: User, filters: LogFilter, cursor: str) -> bool:
    """Whether calls matching `filters` arrived after the row at `cursor` (BadCursor if bad)."""
    return newer_exists(conditions(user, filters), decode_cursor(cursor))


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


def repeat_curl(base_url: str, tool_name: str, tool_version: str, payload) -> str:
    """The curl command that repeats a call, its input quoted for a POSIX shell."""
    body = json.dumps(payload if payload is not None else {}, ensure_ascii=False)
    return curl_command(f"{base_url.rstrip('/')}/api/v1/tools/{tool_name}/{tool_version}", body)


def first_call_curl(base_url: str) -> str:
    """The curl for a first call, shown while the user has no logs."""
    return repeat_curl(base_url, "echo", "v1", FIRST_CALL_INPUT)


def iso_z(value: datetime) -> str:
    """ISO 8601 in UTC with a Z and milliseconds."""
    return value.isoformat(timespec="milliseconds") + "Z"


def export_rows(user: User, filters: LogFilter) -> Iterator[tuple]:
    """Every row of the filtered list, newest first, as EXPORT_COLUMNS tuples, streamed from
    a server-side cursor (yield_per) so memory stays flat whatever the number of rows."""
    keys = key_labels(user)
    stmt = (
        sa.select(
            ToolLog.created_at,
            ToolLog.id,
            ToolLog.tool_name,
            ToolLog.tool_version,
            ToolLog.status,
            ToolLog.http_status,
            ToolLog.error_code,
            ToolLog.api_key_id,
            ToolLog.execution_time_ms,
            ToolLog.tokens_used,
            ToolLog.error_message,
            ToolLog.source,
        )
        .where(*conditions(user, filters))
        .order_by(ToolLog.created_at.desc(), ToolLog.id.desc())
    )

    def as_columns(row) -> tuple:
        key_name, key_prefix = keys.get(row.api_key_id, NO_KEY)
        return (
            row.created_at.isoformat(timespec="milliseconds") + "Z",
            str(row.id),
            row.tool_name,
            row.tool_version,
            row.status,
            row.error_code or "",
            key_name,
            key_prefix,
            row.execution_time_ms,
            row.tokens_used,
            row.error_message or "",
            row.http_status or "",
            1,
            row.source or "api",
        )

    return streamed(stmt, as_columns)


def export_rejected_rows(user: User, filters: LogFilter) -> Iterator[tuple]:
    """The refused-call aggregates under `filters` as EXPORT_COLUMNS tuples: one row per key,
    tool, reason and minute, `calls` holding how many were refused."""
    keys = key_labels(user)
    stmt = (
        sa.select(
            RejectedCalls.minute,
            RejectedCalls.tool_name,
            RejectedCalls.reason,
            RejectedCalls.api_key_id,
            RejectedCalls.count,
        )
        .where(*rejected_conditions(user, filters))
        .order_by(RejectedCalls.minute.desc(), RejectedCalls.last_at.desc())
    )

    def as_columns(row) -> tuple:
        key_name, key_prefix = keys.get(row.api_key_id, NO_KEY)
        return (
            row.minute.isoformat(timespec="milliseconds") + "Z",
            "",
            row.tool_name,
            "",
            "rejected",
            REJECTION_CODES.get(row.reason, row.reason),
            key_name,
            key_prefix,
            "",
            "",
            "",
            REJECTION_STATUS,
            row.count,
            "api",
        )

    return streamed(stmt, as_columns)


NO_KEY = ("", "")


def key_labels(user: User) -> dict[uuid.UUID, tuple[str, str]]:
    """Each of the user's keys' name and prefix, by id."""
    return {key.id: (key.name, key.prefix) for key in keys_of(user)}


def streamed(stmt, as_columns) -> Iterator[tuple]:
    """`as_columns(row)` for each row of `stmt`, read in batches as the response streams.

    Everything that needs the user (an ORM object) is read before this runs: a streamed
    response outlives the request's session, so the generator touches only the SQL statement
    and plain values, and opens its cursor on the session of the moment. Core rows, no ORM
    bookkeeping for a million rows.
    """
    # The option goes on the statement: Connection.execution_options() would change the
    # session's connection in place, and the session's later statements (e.g. an UPDATE)
    # would then run as server-side cursors too, which PostgreSQL refuses.
    result = db.session.connection().execute(stmt.execution_options(yield_per=EXPORT_BATCH))
    try:
        for row in result:
            yield as_columns(row)
    finally:
        result.close()


def purge_expired_logs(batch_size: int = 10_000, now: datetime | None = None) -> int:
    """Delete log rows older than their owner's plan retention, in batches; rows deleted."""
    now = now or utcnow()
    plans = current_app.config["PLANS"]
    deleted = 0
    for plan in plans.values():
        if plan.name == plan_named(None).name:  # unknown plan names fall back to the default
            owners = sa.select(User.id).where(
                sa.or_(
                    User.subscription_plan.is_(None),
                    User.subscription_plan.not_in([p for p in plans if p != plan.name]),
                )
            )
        else:
            owners = sa.select(User.id).where(User.subscription_plan == plan.name)
        cutoff = now - timedelta(days=plan.log_retention_days)
        while True:
            batch = (
                sa.select(ToolLog.id)
                .where(ToolLog.user_id.in_(owners), ToolLog.created_at < cutoff)
                .limit(batch_size)
            )
            result = db.session.execute(sa.delete(ToolLog).where(ToolLog.id.in_(batch)))
            db.session.commit()
            deleted += result.rowcount
            if result.rowcount < batch_size:
                break
    return deleted


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell):
    """A text cell that a spreadsheet would run as a formula, prefixed with a quote so it is
    shown as text (OWASP's advice); numbers and other text unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_chunks(rows: Iterator[tuple], rows_per_chunk: int = 500) -> Iterator[str]:
    """CSV text (header first) for `rows`, in chunks of a few hundred rows; text cells that
    start like a formula are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralised(cell) for cell in row])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
