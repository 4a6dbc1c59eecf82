"""Metering: one log row a call and its counters, written together in one transaction."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

from dashboard.api.codes import ErrorCode
from dashboard.api.connection import write_returning_one
from dashboard.api.fingerprint import fingerprint
from dashboard.dialects import greatest, least, upsert
from dashboard.extensions import db
from dashboard.models import (
    ApiKey,
    ErrorGroupDay,
    RejectedCalls,
    ToolLog,
    UsageDaily,
    UsageSummary,
    utcnow,
)
from dashboard.models.payloads import kept_payload
from dashboard.models.usage import LATENCY_COLUMNS, latency_bucket_column
from dashboard.observability import metrics

# last_request_at is shown to the minute; writing it at most this often spares a hot row.
LAST_USED_RESOLUTION = timedelta(seconds=30)
# The longest message an error group keeps as its example (the log row keeps it whole).
GROUP_MESSAGE_LENGTH = 500
# Why a call was refused before it was logged, and the usage_daily column that counts it
# (None: counted in rejected_calls only). Calls refused for too many in flight count with the
# rate-limited ones in the daily rollup (both say "too much at once"); the logs' refused-calls
# rows keep the two reasons apart.
REJECTION_COLUMNS = {
    "rate_limit": "rejected_rate_limit",
    "quota": "rejected_quota",
    "key_quota": "rejected_quota",  # a key's own monthly cap: a quota too
    "concurrency": "rejected_rate_limit",
}


def month_of(at: datetime) -> str:
    """`YYYY-MM` of a UTC time, as usage_summaries.month_year holds it."""
    return at.strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class MeteredCall:
    """One call's facts, as metering writes them: built once (by the gateway) and read by both
    writers below.

    `http_status` is the status the call was answered with (None: its code's, or 200 for a
    success), `errors` every schema error of an invalid_input call, `source` where the call came
    from (None: the API; `playground`), `at` when (None: now), `log_id` the log row's id when it
    is known before metering (the request's), and `input_json`/`output_json` the payloads' JSON
    when the caller has already encoded them. A call that is not `billable` (a test-mode key's)
    is logged and counted in usage_daily but not in usage_summaries (billed usage, the quota)."""

    user_id: uuid.UUID
    api_key_id: uuid.UUID
    tool_name: str
    tool_version: str
    input_payload: object
    output_payload: object
    status: str
    execution_time_ms: int
    tokens_used: int
    error_message: str | None = None
    error_code: str | None = None
    client_ip: str | None = None
    at: datetime | None = None
    http_status: int | None = None
    errors: list | None = None
    source: str | None = None
    log_id: uuid.UUID | None = None
    input_json: str | None = None
    output_json: str | None = None
    billable: bool = True


class Recorded(NamedTuple):
    """What metering one call wrote: the log row's id, its month and the month's calls after it
    (None for a call that is not billable: the month's count was not touched)."""

    log_id: uuid.UUID
    month_year: str
    month_calls: int | None


def record(call: MeteredCall) -> Recorded:
    """Write the call's log row, the month's counter and the day's rollup, and commit.

    Each payload is kept whole while its JSON fits in LOG_PAYLOAD_MAX_BYTES, else as a
    truncation marker (dashboard/models/payloads.py), and so are the schema errors
    (kept_errors)."""
    write = (
        record_call_in_one_statement
        if db.engine.dialect.name == "postgresql"
        else record_call_statement_by_statement
    )
    try:
        return write(call)
    except Exception:
        metrics.METERING_FAILURES.inc()
        raise


def record_call(**facts) -> uuid.UUID:
    """Meter a call given as MeteredCall's fields (demo data, tests); the log row's id."""
    return record_call_counted(**facts).log_id


def record_call_counted(**facts) -> Recorded:
    """record_call, answering what was written; a call that lacks one of its facts is a write
    that failed, and counts as one."""
    try:
        call = MeteredCall(**facts)
    except TypeError:
        metrics.METERING_FAILURES.inc()
        raise
    return record(call)


def kept_for_log(payload, text: str | None, cap: int) -> tuple[object, str]:
    """What the log row keeps of a payload (whose JSON is `text`, when already encoded): the
    payload and its JSON while they fit in `cap` bytes, else the truncation marker as both."""
    text = json.dumps(payload) if text is None else text
    kept, cut = kept_payload(text, cap)
    return (json.loads(kept) if cut else payload), kept


class Stored(NamedTuple):
    """What the log row stores of a call beyond the facts as given: when, the payloads as kept
    (each as a value and as JSON), the answered status, the errors as kept and, for a failed
    call, its message's fingerprint (the errors inbox groups by it)."""

    at: datetime
    input_payload: object
    input_json: str
    output_payload: object
    output_json: str
    http_status: int
    errors: list | None
    fingerprint: str | None


# The status each error code is answered with (dashboard.api.codes), for callers that do not say.
STATUS_OF_CODE = {str(code): code.status for code in ErrorCode}


def stored(call: MeteredCall) -> Stored:
    """The stored columns of a call; without an HTTP status, the one its code is answered with
    (a failed call of unknown code: 500)."""
    cap = current_app.config["LOG_PAYLOAD_MAX_BYTES"]
    input_payload, input_json = kept_for_log(call.input_payload, call.input_json, cap)
    output_payload, output_json = kept_for_log(call.output_payload, call.output_json, cap)
    failed = call.status != "success"
    default = STATUS_OF_CODE.get(call.error_code, 500) if failed else 200
    return Stored(
        at=call.at or utcnow(),
        input_payload=input_payload,
        input_json=input_json,
        output_payload=output_payload,
        output_json=output_json,
        http_status=call.http_status or default,
        errors=kept_errors(call.errors, cap),
        fingerprint=fingerprint(call.error_message) if failed else None,
    )


def kept_errors(errors: list | None, cap: int) -> list | None:
    """The schema errors to store: all of them while their JSON fits in `cap` bytes, else as
    many as fit and a last entry that says how many were left out."""
    if not errors:
        return None
    kept, size = [], 2
    for index, error in enumerate(errors):
        size += len(json.dumps(error, ensure_ascii=False).encode()) + 1
        if size > cap - 200:  # room for the closing note
            left = len(errors) - index
            kept.append({"path": "", "message": f"{left} more errors were not kept"})
            break
        kept.append(error)
    return kept


def record_call_in_one_statement(call: MeteredCall) -> Recorded:
    """PostgreSQL: the log row, both counters, the error group and the key's last use in ONE
    statement (one round trip), committed before returning. Outside a transaction it runs in
    autocommit mode (dashboard.api.connection), so the statement is the whole transaction."""
    kept = stored(call)
    at = kept.at
    bucket = latency_bucket_column(call.execution_time_ms)
    params = {
        "log_id": call.log_id or uuid.uuid4(),
        "summary_id": uuid.uuid4(),
        "user_id": call.user_id,
        "api_key_id": call.api_key_id,
        "tool_name": call.tool_name,
        "tool_version": call.tool_version,
        # As SQLAlchemy's JSON type writes them: None is the JSON null, not SQL NULL.
        "input_payload": kept.input_json,
        "output_payload": kept.output_json,
        "at": at,
        "status": call.status,
        "execution_time_ms": call.execution_time_ms,
        "tokens_used": call.tokens_used,
        "error_message": call.error_message,
        "error_code": call.error_code,
        "client_ip": call.client_ip,
        "month_year": month_of(at),
        "day": at.date(),
        "failed": int(call.status != "success"),
        "touch_before": at - LAST_USED_RESOLUTION,
        "http_status": kept.http_status,
        "errors": json.dumps(kept.errors) if kept.errors is not None else None,
        "error_fingerprint": kept.fingerprint,
        "source": call.source,
        "error_code_key": call.error_code or "",
        "group_message": (call.error_message or "")[:GROUP_MESSAGE_LENGTH],
        **{column: int(column == bucket) for column in LATENCY_COLUMNS},
    }
    relaxed = not current_app.config.get("METERING_SYNCHRONOUS_COMMIT", True)
    statement = RECORD_CALL_SQL[relaxed, bool(params["failed"]), call.billable]
    month_calls = write_returning_one(statement, params)
    return Recorded(params["log_id"], params["month_year"], month_calls)


def _record_call_sql(relaxed: bool, failed: bool, billable: bool = True) -> str:
    """The metering statement: data-modifying CTEs for tool_logs, usage_summaries (billable
    calls), usage_daily, error_group_days (failed calls) and api_keys.last_request_at; it
    answers the month's calls after this one (NULL when not billable)."""
    buckets = ", ".join(LATENCY_COLUMNS)
    bucket_values = ", ".join(f"%({column})s" for column in LATENCY_COLUMNS)
    bucket_updates = ", ".join(f"{c} = d.{c} + EXCLUDED.{c}" for c in LATENCY_COLUMNS)
    # set_config(..., true) lasts until this transaction ends: the relaxed durability applies
    # to the metering transaction alone. It is referenced below so that it runs.
    relax = (
        ", relax AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)"
        if relaxed
        else ""
    )
    relax_column = ", (SELECT setting FROM relax)" if relaxed else ""
    group = ERROR_GROUP_CTE if failed else ""
    month = MONTH_CTE if billable else ""
    month_calls = "(SELECT total_calls FROM month)" if billable else "NULL::integer"
    return f"""
WITH log AS (
    INSERT INTO tool_logs (id, user_id, api_key_id, tool_name, tool_version, input_payload,
        output_payload, created_at, status, execution_time_ms, tokens_used, error_message,
        error_code, client_ip, http_status, errors, error_fingerprint, source)
    VALUES (%(log_id)s, %(user_id)s, %(api_key_id)s, %(tool_name)s, %(tool_version)s,
        %(input_payload)s::jsonb, %(output_payload)s::jsonb, %(at)s, %(status)s,
        %(execution_time_ms)s, %(tokens_used)s, %(error_message)s, %(error_code)s,
        %(client_ip)s, %(http_status)s, %(errors)s::jsonb, %(error_fingerprint)s, %(source)s)
){month}, daily AS (
    INSERT INTO usage_daily AS d (user_id, day, api_key_id, tool_name, calls, errors, tokens,
        execution_ms_total, rejected_rate_limit, rejected_quota, {buckets})
    VALUES (%(user_id)s, %(day)s, %(api_key_id)s, %(tool_name)s, 1, %(failed)s,
        %(tokens_used)s, %(execution_time_ms)s, 0, 0, {bucket_values})
    ON CONFLICT (user_id, day, api_key_id, tool_name) DO UPDATE
    SET calls = d.calls + 1, errors = d.errors + EXCLUDED.errors,
        tokens = d.tokens + EXCLUDED.tokens,
        execution_ms_total = d.execution_ms_total + EXCLUDED.execution_ms_total,
        {bucket_updates}
), touched AS (
    UPDATE api_keys SET last_request_at = %(at)s
    WHERE id = %(api_key_id)s
      AND (last_request_at IS NULL OR last_request_at < %(touch_before)s)
){group}{relax}
SELECT {month_calls}{relax_column}
"""


MONTH_CTE = """, month AS (
    INSERT INTO usage_summaries AS s (id, user_id, month_year, total_calls, total_tokens,
        created_at)
    VALUES (%(summary_id)s, %(user_id)s, %(month_year)s, 1, %(tokens_used)s, %(at)s)
    ON CONFLICT (user_id, month_year) DO UPDATE
    SET total_calls = s.total_calls + 1, total_tokens = s.total_tokens + EXCLUDED.total_tokens
    RETURNING s.total_calls
)"""


ERROR_GROUP_CTE = """, error_group AS (
    INSERT INTO error_group_days AS e (user_id, day, tool_name, tool_version, error_code,
        fingerprint, api_key_id, count, first_at, last_at, message, sample_log_id)
    VALUES (%(user_id)s, %(day)s, %(tool_name)s, %(tool_version)s, %(error_code_key)s,
        %(error_fingerprint)s, %(api_key_id)s, 1, %(at)s, %(at)s, %(group_message)s,
        %(log_id)s)
    ON CONFLICT (user_id, day, tool_name, tool_version, error_code, fingerprint, api_key_id)
    DO UPDATE SET count = e.count + 1,
        first_at = LEAST(e.first_at, EXCLUDED.first_at),
        last_at = GREATEST(e.last_at, EXCLUDED.last_at),
        message = CASE WHEN EXCLUDED.last_at >= e.last_at THEN EXCLUDED.message
            ELSE e.message END,
        sample_log_id = CASE WHEN EXCLUDED.last_at >= e.last_at THEN EXCLUDED.sample_log_id
            ELSE e.sample_log_id END
)"""

# (relaxed commit, failed call, billable call) -> the statement.
RECORD_CALL_SQL = {
    (relaxed, failed, billable): _record_call_sql(relaxed, failed, billable)
    for relaxed in (False, True)
    for failed in (False, True)
    for billable in (False, True)
}


def record_call_statement_by_statement(call: MeteredCall) -> Recorded:
    """SQLite (and any other database): the same writes as separate statements, one commit."""
    kept = stored(call)
    at, month = kept.at, month_of(kept.at)
    log_id = call.log_id or uuid.uuid4()
    session = db.session
    session.execute(
        sa.insert(ToolLog).values(
            id=log_id,
            user_id=call.user_id,
            api_key_id=call.api_key_id,
            tool_name=call.tool_name,
            tool_version=call.tool_version,
            input_payload=kept.input_payload,
            output_payload=kept.output_payload,
            created_at=at,
            status=call.status,
            execution_time_ms=call.execution_time_ms,
            tokens_used=call.tokens_used,
            error_message=call.error_message,
            error_code=call.error_code,
            client_ip=call.client_ip,
            http_status=kept.http_status,
            errors=kept.errors if kept.errors is not None else sa.null(),
            error_fingerprint=kept.fingerprint,
            source=call.source,
        )
    )
    if call.billable:
        count_in_month(call, month, at)
    failed = int(call.status != "success")
    bucket = latency_bucket_column(call.execution_time_ms)
    daily = upsert(UsageDaily).values(
        user_id=call.user_id,
        day=at.date(),
        api_key_id=call.api_key_id,
        tool_name=call.tool_name,
        calls=1,
        errors=failed,
        tokens=call.tokens_used,
        execution_ms_total=call.execution_time_ms,
        rejected_rate_limit=0,
        rejected_quota=0,
        **{bucket: 1},
    )
    table = UsageDaily.__table__
    session.execute(
        daily.on_conflict_do_update(
            index_elements=["user_id", "day", "api_key_id", "tool_name"],
            set_={
                "calls": table.c.calls + 1,
                "errors": table.c.errors + failed,
                "tokens": table.c.tokens + call.tokens_used,
                "execution_ms_total": table.c.execution_ms_total + call.execution_time_ms,
                bucket: table.c[bucket] + 1,
            },
        )
    )
    if failed:
        count_error(
            ErrorGroupDay(
                user_id=call.user_id,
                day=at.date(),
                tool_name=call.tool_name,
                tool_version=call.tool_version,
                error_code=call.error_code or "",
                fingerprint=kept.fingerprint,
                api_key_id=call.api_key_id,
                first_at=at,
                last_at=at,
                message=(call.error_message or "")[:GROUP_MESSAGE_LENGTH],
                sample_log_id=log_id,
            )
        )
    touch_key(call.api_key_id, at)
    month_calls = None
    if call.billable:
        month_calls = session.execute(
            sa.select(UsageSummary.total_calls).where(
                UsageSummary.user_id == call.user_id, UsageSummary.month_year == month
            )
        ).scalar_one()
    session.commit()
    return Recorded(log_id, month, month_calls)


def count_in_month(call: MeteredCall, month: str, at: datetime) -> None:
    """Add a billable call to the account's month (usage_summaries, the statement-by-statement
    path)."""
    summary = upsert(UsageSummary).values(
        id=uuid.uuid4(),
        user_id=call.user_id,
        month_year=month,
        total_calls=1,
        total_tokens=call.tokens_used,
        created_at=at,
    )
    db.session.execute(
        summary.on_conflict_do_update(
            index_elements=["user_id", "month_year"],
            set_={
                "total_calls": UsageSummary.total_calls + 1,
                "total_tokens": UsageSummary.total_tokens + call.tokens_used,
            },
        )
    )


def count_error(row: ErrorGroupDay) -> None:
    """Add one failed call to its error group's day (the statement-by-statement path)."""
    table = ErrorGroupDay.__table__
    values = {column.name: getattr(row, column.key) for column in table.columns}
    values["count"] = 1
    newer = sa.literal(row.last_at, table.c.last_at.type) >= table.c.last_at
    statement = upsert(ErrorGroupDay).values(**values)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[column.name for column in table.primary_key.columns],
            set_={
                "count": table.c.count + 1,
                "first_at": least(table.c.first_at, statement.excluded.first_at),
                "last_at": greatest(table.c.last_at, statement.excluded.last_at),
                "message": sa.case((newer, statement.excluded.message), else_=table.c.message),
                "sample_log_id": sa.case(
                    (newer, statement.excluded.sample_log_id), else_=table.c.sample_log_id
                ),
            },
        )
    )


def record_rejection(
    *, user_id: uuid.UUID, api_key_id: uuid.UUID, tool_name: str, reason: str, at=None
) -> None:
    """Count a call refused by the rate limit (`rate_limit`), the quota (`quota`) or the
    concurrency limit (`concurrency`): no log row, but one upsert of the key's refused calls
    in this minute (rejected_calls) and one of the day's rollup (REJECTION_COLUMNS)."""
    column = REJECTION_COLUMNS[reason]
    at = at or utcnow()
    if column is not None:
        daily = upsert(UsageDaily).values(
            user_id=user_id,
            day=at.date(),
            api_key_id=api_key_id,
            tool_name=tool_name,
            **{column: 1},
        )
        table = UsageDaily.__table__
        db.session.execute(
            daily.on_conflict_do_update(
                index_elements=["user_id", "day", "api_key_id", "tool_name"],
                set_={column: table.c[column] + 1},
            )
        )
    refused = upsert(RejectedCalls).values(
        api_key_id=api_key_id,
        minute=at.replace(second=0, microsecond=0),
        reason=reason,
        tool_name=tool_name,
        user_id=user_id,
        count=1,
        last_at=at,
    )
    table = RejectedCalls.__table__
    db.session.execute(
        refused.on_conflict_do_update(
            index_elements=["api_key_id", "minute", "reason", "tool_name"],
            set_={
                "count": table.c.count + 1,
                "last_at": greatest(table.c.last_at, refused.excluded.last_at),
            },
        )
    )
    db.session.commit()


def touch_key(api_key_id: uuid.UUID, at: datetime) -> None:
    """Move the key's last_request_at forward, at most every LAST_USED_RESOLUTION."""
    db.session.execute(
        sa.update(ApiKey)
        .where(ApiKey.id == api_key_id)
        .where(
            sa.or_(
                ApiKey.last_request_at.is_(None),
                ApiKey.last_request_at < at - LAST_USED_RESOLUTION,
            )
        )
        .values(last_request_at=at)
    )
