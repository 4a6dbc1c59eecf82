"""The CSV export: every row of the filtered list (or its refused-call rows), streamed."""

import csv
import io
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import keys_of
from dashboard.logs.filters import LogFilter
from dashboard.logs.service import (
    conditions,
    rejected_conditions,
    rejection_code,
)
from dashboard.models import RejectedCalls, ToolLog, User

EXPORT_BATCH = 1000
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
            rejection_code(row.reason).value,
            key_name,
            key_prefix,
            "",
            "",
            "",
            rejection_code(row.reason).status,
            row.count,
            "api",
        )

    return streamed(stmt, as_columns)


NO_KEY = ("", "")


def key_labels(user: User) -> dict[uuid.UUID, tuple[str, str]]:
    """Each of the user's keys' name and prefix, by id (a deleted key's name: `deleted key`)."""
    return {
        key.id: ("deleted key" if key.deleted_at else key.name, key.prefix)
        for key in keys_of(user, deleted=True)
    }


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
