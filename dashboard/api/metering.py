"""Metering: one log row a call and its counters, written together in one transaction."""

import json
import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

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
    "concurrency": "rejected_rate_limit",
}


def month_of(at: datetime) -> str:
    """`YYYY-MM` of a UTC time, as usage_summaries.month_year holds it."""
    return at.strftime("%Y-%m")


def record_call(
    *,
    user_id: uuid.UUID,
    api_key_id: uuid.UUID,
    tool_name: str,
    tool_version: str,
    input_payload: dict | None,
    output_payload: dict | None,
    status: str,
    execution_time_ms: int,
    tokens_used: int,
    error_message: str | None = None,
    error_code: str | None = None,
    client_ip: str | None = None,
    at: datetime | None = None,
    http_status: int | None = None,
    errors: list | None = None,
    source: str | None = None,
) -> uuid.UUID:
    """Write the log row, the month's counter and the day's rollup, and commit; the log id."""
    return record_call_counted(
        user_id=user_id,
        api_key_id=api_key_id,
        tool_name=tool_name,
        tool_version=tool_version,
        input_payload=input_payload,
        output_payload=output_payload,
        status=status,
        execution_time_ms=execution_time_ms,
        tokens_used=tokens_used,
        error_message=error_message,
        error_code=error_code,
        client_ip=client_ip,
        at=at,
        http_status=http_status,
        errors=errors,
        source=source,
    ).log_id


class Recorded(NamedTuple):
    """What metering one call wrote: the log row's id, its month and the month's calls after it."""

    log_id: uuid.UUID
    month_year: str
    month_calls: int


def record_call_counted(
    *,
    at: datetime | None = None,
    http_status: int | None = None,
    errors: list | None = None,
    source: str | None = None,
    **call,
) -> Recorded:
    """record_call, also returning the user's calls this month (the quota reads it).

    `http_status` is the status the call was answered with (200, or the error's), `errors`
    every schema error of an invalid_input call (kept up to LOG_PAYLOAD_MAX_BYTES of JSON), and
    `source` marks where the call came from (None: the API; `playground`). Each payload is
    kept whole while its JSON fits in LOG_PAYLOAD_MAX_BYTES, else as a truncation marker
    (dashboard/models/payloads.py)."""
    at = at or utcnow()
    outcome = {"http_status": http_status, "errors": errors, "source": source}
    cap = current_app.config["LOG_PAYLOAD_MAX_BYTES"]
    for part in ("input", "output"):
        payload, text = kept_for_log(call.get(f"{part}_payload"), call.get(f"{part}_json"), cap)
        call[f"{part}_payload"], call[f"{part}_json"] = payload, text
    record = (
        record_call_in_one_statement
        if db.engine.dialect.name == "postgresql"
        else record_call_statement_by_statement
    )
    try:
        return record(at=at, **outcome, **call)
    except Exception:
        metrics.METERING_FAILURES.inc()
        raise


def kept_for_log(payload, text: str | None, cap: int) -> tuple[object, str]:
    """What the log row keeps of a payload (whose JSON is `text`, when already encoded): the
    payload and its JSON while they fit in `cap` bytes, else the truncation marker as both."""
    text = json.dumps(payload) if text is None else text
    kept, cut = kept_payload(text, cap)
    return (json.loads(kept) if cut else payload), kept


class Outcome(NamedTuple):
    """How a call ended, beyond its status: what the logs and the errors inbox show."""

    http_status: int
    errors: list | None
    fingerprint: str | None  # failed calls only
    source: str | None


# The status each logged error code is answered with, for callers that do not say it.
HTTP_STATUS_OF_CODE = {
    "invalid_json": 400,
    "ip_not_allowed": 403,
    "tool_not_allowed": 403,
    "payload_too_large": 413,
    "invalid_input": 422,
    "output_too_large": 422,
    "memory_limit_exceeded": 422,
    "tool_error": 500,
}


def outcome_of(status, error_code, error_message, http_status, errors, source) -> Outcome:
    """The outcome columns of a call; without an HTTP status, the one its code is answered
    with (a failed call of unknown code: 500)."""
    failed = status != "success"
    default = HTTP_STATUS_OF_CODE.get(error_code, 500) if failed else 200
    return Outcome(
        http_status=http_status or default,
        errors=kept_errors(errors, current_app.config["LOG_PAYLOAD_MAX_BYTES"]),
        fingerprint=fingerprint(error_message) if failed else None,
        source=source,
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


def record_call_in_one_statement(
    *,
    user_id,
    api_key_id,
    tool_name,
    tool_version,
    input_payload,
    output_payload,
    status,
    execution_time_ms,
    tokens_used,
    error_message=None,
    error_code=None,
    client_ip=None,
    log_id: uuid.UUID | None = None,
    at: datetime,
    input_json: str | None = None,
    output_json: str | None = None,
    http_status=None,
    errors=None,
    source=None,
) -> Recorded:
    """PostgreSQL: the log row, both counters, the error group and the key's last use in ONE
    statement (one round trip), committed before returning. Outside a transaction it runs in
    autocommit mode (dashboard.api.connection), so the statement is the whole transaction."""
    outcome = outcome_of(status, error_code, error_message, http_status, errors, source)
    log_id = log_id or uuid.uuid4()
    bucket = latency_bucket_column(execution_time_ms)
    params = {
        "log_id": log_id,
        "summary_id": uuid.uuid4(),
        "user_id": user_id,
        "api_key_id": api_key_id,
        "tool_name": tool_name,
        "tool_version": tool_version,
        # As SQLAlchemy's JSON type writes them: None is the JSON null, not SQL NULL.
        "input_payload": json.dumps(input_payload) if input_json is None else input_json,
        "output_payload": json.dumps(output_payload) if output_json is None else output_json,
        "at": at,
        "status": status,
        "execution_time_ms": execution_time_ms,
        "tokens_used": tokens_used,
        "error_message": error_message,
        "error_code": error_code,
        "client_ip": client_ip,
        "month_year": month_of(at),
        "day": at.date(),
        "failed": int(status != "success"),
        "touch_before": at - LAST_USED_RESOLUTION,
        "http_status": outcome.http_status,
        "errors": json.dumps(outcome.errors) if outcome.errors is not None else None,
        "error_fingerprint": outcome.fingerprint,
        "source": outcome.source,
        "error_code_key": error_code or "",
        "group_message": (error_message or "")[:GROUP_MESSAGE_LENGTH],
        **{column: int(column == bucket) for column in LATENCY_COLUMNS},
    }
    relaxed = not current_app.config.get("METERING_SYNCHRONOUS_COMMIT", True)
    month_calls = write_returning_one(RECORD_CALL_SQL[relaxed, bool(params["failed"])], params)
    return Recorded(log_id, params["month_year"], month_calls)


def _record_call_sql(relaxed: bool, failed: bool) -> str:
    """The metering statement: data-modifying CTEs for tool_logs, usage_summaries, usage_daily,
    error_group_days (failed calls) and api_keys.last_request_at; it answers the month's calls
    after this one."""
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
    return f"""
WITH log AS (
    INSERT INTO tool_logs (id, user_id, api_key_id, tool_name, tool_version, input_payload,
        output_payload, created_at, status, execution_time_ms, tokens_used, error_message,
        error_code, client_ip, http_status, errors, error_fingerprint, source)
    VALUES (%(log_id)s, %(user_id)s, %(api_key_id)s, %(tool_name)s, %(tool_version)s,
        %(input_payload)s::jsonb, %(output_payload)s::jsonb, %(at)s, %(status)s,
        %(execution_time_ms)s, %(tokens_used)s, %(error_message)s, %(error_code)s,
        %(client_ip)s, %(http_status)s, %(errors)s::jsonb, %(error_fingerprint)s, %(source)s)
), month AS (
    INSERT INTO usage_summaries AS s (id, user_id, month_year, total_calls, total_tokens,
        created_at)
    VALUES (%(summary_id)s, %(user_id)s, %(month_year)s, 1, %(tokens_used)s, %(at)s)
    ON CONFLICT (user_id, month_year) DO UPDATE
    SET total_calls = s.total_calls + 1, total_tokens = s.total_tokens + EXCLUDED.total_tokens
    RETURNING s.total_calls
), daily AS (
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
SELECT (SELECT total_calls FROM month){relax_column}
"""


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

# (relaxed commit, failed call) -> the statement.
RECORD_CALL_SQL = {
    (relaxed, failed): _record_call_sql(relaxed, failed)
    for relaxed in (False, True)
    for failed in (False, True)
}


def record_call_statement_by_statement(
    *,
    user_id,
    api_key_id,
    tool_name,
    tool_version,
    input_payload,
    output_payload,
    status,
    execution_time_ms,
    tokens_used,
    error_message=None,
    error_code=None,
    client_ip=None,
    log_id: uuid.UUID | None = None,
    at: datetime,
    input_json: str | None = None,
    output_json: str | None = None,
    http_status=None,
    errors=None,
    source=None,
) -> Recorded:
    """SQLite (and any other database): the same writes as separate statements, one commit."""
    outcome = outcome_of(status, error_code, error_message, http_status, errors, source)
    log_id = log_id or uuid.uuid4()
    session = db.session
    session.execute(
        sa.insert(ToolLog).values(
            id=log_id,
            user_id=user_id,
            api_key_id=api_key_id,
            tool_name=tool_name,
            tool_version=tool_version,
            input_payload=input_payload,
            output_payload=output_payload,
            created_at=at,
            status=status,
            execution_time_ms=execution_time_ms,
            tokens_used=tokens_used,
            error_message=error_message,
            error_code=error_code,
            client_ip=client_ip,
            http_status=outcome.http_status,
            errors=outcome.errors if outcome.errors is not None else sa.null(),
            error_fingerprint=outcome.fingerprint,
            source=outcome.source,
        )
    )
    summary = upsert(UsageSummary).values(
        id=uuid.uuid4(),
        user_id=user_id,
        month_year=month_of(at),
        total_calls=1,
        total_tokens=tokens_used,
        created_at=at,
    )
    session.execute(
        summary.on_conflict_do_update(
            index_elements=["user_id", "month_year"],
            set_={
                "total_calls": UsageSummary.total_calls + 1,
                "total_tokens": UsageSummary.total_tokens + tokens_used,
            },
        )
    )
    failed = int(status != "success")
    bucket = latency_bucket_column(execution_time_ms)
    daily = upsert(UsageDaily).values(
        user_id=user_id,
        day=at.date(),
        api_key_id=api_key_id,
        tool_name=tool_name,
        calls=1,
        errors=failed,
        tokens=tokens_used,
        execution_ms_total=execution_time_ms,
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
                "tokens": table.c.tokens + tokens_used,
                "execution_ms_total": table.c.execution_ms_total + execution_time_ms,
                bucket: table.c[bucket] + 1,
            },
        )
    )
    if failed:
        count_error(
            ErrorGroupDay(
                user_id=user_id,
                day=at.date(),
                tool_name=tool_name,
                tool_version=tool_version,
                error_code=error_code or "",
                fingerprint=outcome.fingerprint,
                api_key_id=api_key_id,
                first_at=at,
                last_at=at,
                message=(error_message or "")[:GROUP_MESSAGE_LENGTH],
                sample_log_id=log_id,
            )
        )
    touch_key(api_key_id, at)
    month_calls = session.execute(
        sa.select(UsageSummary.total_calls).where(
            UsageSummary.user_id == user_id, UsageSummary.month_year == month_of(at)
        )
    ).scalar_one()
    session.commit()
    return Recorded(log_id, month_of(at), month_calls)


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
