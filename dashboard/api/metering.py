"""Metering: one log row a call and its counters, written together in one transaction."""

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.extensions import db
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary, utcnow
from dashboard.models.usage import latency_bucket_column

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
    at = at or utcnow()
    log_id = uuid.uuid4()
    session = db.session
    relax_commit_durability()
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
    session.commit()
    return log_id


def relax_commit_durability() -> None:
    """With METERING_SYNCHRONOUS_COMMIT off, PostgreSQL commits this transaction without
    waiting for its WAL flush: faster, and a crash may lose the last few metered calls."""
    if current_app.config.get("METERING_SYNCHRONOUS_COMMIT", True):
        return
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL synchronous_commit = off"))


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
