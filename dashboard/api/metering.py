"""Metering: one log row a call and its counters, written together in one transaction."""

import json
import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.api.connection import write_returning_one
from dashboard.extensions import db
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary, utcnow
from dashboard.models.usage import LATENCY_COLUMNS, latency_bucket_column
from dashboard.observability import metrics

# last_request_at is shown to the minute; writing it at most this often spares a hot row.
LAST_USED_RESOLUTION = timedelta(seconds=30)


def upsert(model):
    """INSERT ... ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


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
    ).log_id


class Recorded(NamedTuple):
    """What metering one call wrote: the log row's id, its month and the month's calls after it."""

    log_id: uuid.UUID
    month_year: str
    month_calls: int


def record_call_counted(
    *, at: datetime | None = None, log_id: uuid.UUID | None = None, **call
) -> Recorded:
    """record_call, also returning the user's calls this month (the quota reads it).

    `log_id` is the log row's id (the gateway gives the request's id); a new one by default."""
    at = at or utcnow()
    record = (
        record_call_in_one_statement
        if db.engine.dialect.name == "postgresql"
        else record_call_statement_by_statement
    )
    try:
        return record(at=at, log_id=log_id, **call)
    except Exception:
        metrics.METERING_FAILURES.inc()
        raise


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
) -> Recorded:
    """PostgreSQL: the log row, both counters and the key's last use in ONE statement (one
    round trip), committed before returning. Outside a transaction it runs in autocommit mode
    (dashboard.api.connection), so the statement is the whole transaction. `input_json` and
    `output_json`, when given, are the payloads already encoded (the gateway encodes once)."""
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
        **{column: int(column == bucket) for column in LATENCY_COLUMNS},
    }
    relaxed = not current_app.config.get("METERING_SYNCHRONOUS_COMMIT", True)
    month_calls = write_returning_one(
        RECORD_CALL_RELAXED_SQL if relaxed else RECORD_CALL_SQL, params
    )
    return Recorded(log_id, params["month_year"], month_calls)


def _record_call_sql(relaxed: bool) -> str:
    """The metering statement: data-modifying CTEs for tool_logs, usage_summaries, usage_daily
    and api_keys.last_request_at; it answers the month's calls after this one."""
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
    return f"""
WITH log AS (
    INSERT INTO tool_logs (id, user_id, api_key_id, tool_name, tool_version, input_payload,
        output_payload, created_at, status, execution_time_ms, tokens_used, error_message,
        error_code, client_ip)
    VALUES (%(log_id)s, %(user_id)s, %(api_key_id)s, %(tool_name)s, %(tool_version)s,
        %(input_payload)s::jsonb, %(output_payload)s::jsonb, %(at)s, %(status)s,
        %(execution_time_ms)s, %(tokens_used)s, %(error_message)s, %(error_code)s,
        %(client_ip)s)
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
){relax}
SELECT (SELECT total_calls FROM month){relax_column}
"""


RECORD_CALL_SQL = _record_call_sql(relaxed=False)
RECORD_CALL_RELAXED_SQL = _record_call_sql(relaxed=True)


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
) -> Recorded:
    """SQLite (and any other database): the same writes as separate statements, one commit
    (the JSON columns take the objects; pre-encoded text is not needed here)."""
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
    touch_key(api_key_id, at)
    month_calls = session.execute(
        sa.select(UsageSummary.total_calls).where(
            UsageSummary.user_id == user_id, UsageSummary.month_year == month_of(at)
        )
    ).scalar_one()
    session.commit()
    return Recorded(log_id, month_of(at), month_calls)


def record_rejection(
    *, user_id: uuid.UUID, api_key_id: uuid.UUID, tool_name: str, reason: str, at=None
) -> None:
    """Count a call refused by the rate limit (`rate_limit`) or the quota (`quota`); no log row."""
    column = {"rate_limit": "rejected_rate_limit", "quota": "rejected_quota"}[reason]
    at = at or utcnow()
    daily = upsert(UsageDaily).values(
        user_id=user_id, day=at.date(), api_key_id=api_key_id, tool_name=tool_name, **{column: 1}
    )
    table = UsageDaily.__table__
    db.session.execute(
        daily.on_conflict_do_update(
            index_elements=["user_id", "day", "api_key_id", "tool_name"],
            set_={column: table.c[column] + 1},
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
