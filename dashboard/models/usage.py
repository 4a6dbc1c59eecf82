"""What the gateway records: one log row a call, and the counters that roll calls up."""

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, new_id, utcnow

# Upper bounds (inclusive, milliseconds) of the execution-time histogram in usage_daily;
# a last, open bucket counts everything slower. Percentiles are read off this histogram.
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


class ToolLog(db.Model):
    __tablename__ = "tool_logs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE")
    )
    tool_name: Mapped[str] = mapped_column(sa.Text)
    tool_version: Mapped[str] = mapped_column(sa.Text, default="v1")
    input_payload: Mapped[dict | None] = mapped_column(Json)
    output_payload: Mapped[dict | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    status: Mapped[str] = mapped_column(sa.Text, default="success")  # "success" | "error"
    execution_time_ms: Mapped[int | None] = mapped_column(sa.Integer)
    tokens_used: Mapped[int | None] = mapped_column(sa.Integer)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    # Dashboard additions (revision 0002).
    error_code: Mapped[str | None] = mapped_column(sa.Text)  # the API's error code
    client_ip: Mapped[str | None] = mapped_column(sa.Text)
    # Revision 0004: the answer's HTTP status, every schema error of an invalid_input call,
    # the error's fingerprint (the errors inbox groups by it) and `playground` for calls
    # made from the dashboard (NULL: the API).
    http_status: Mapped[int | None] = mapped_column(sa.Integer)
    errors: Mapped[list | None] = mapped_column(Json)
    error_fingerprint: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)


class UsageSummary(db.Model):
    __tablename__ = "usage_summaries"
    __table_args__ = (sa.UniqueConstraint("user_id", "month_year"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    month_year: Mapped[str] = mapped_column(sa.Text)  # "YYYY-MM", UTC
    total_calls: Mapped[int] = mapped_column(sa.Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class UsageDaily(db.Model):
    """Daily rollup per user, key and tool, written in the same transaction as the log row."""

    __tablename__ = "usage_daily"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)  # UTC
    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    tool_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    calls: Mapped[int] = mapped_column(sa.Integer, default=0)  # logged calls (success + error)
    errors: Mapped[int] = mapped_column(sa.Integer, default=0)
    tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    execution_ms_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rejected_rate_limit: Mapped[int] = mapped_column(sa.Integer, default=0)
    rejected_quota: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_1: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_2: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_5: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_10: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_20: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_50: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_100: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_200: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_500: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_1000: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_le_5000: Mapped[int] = mapped_column(sa.Integer, default=0)
    latency_gt_5000: Mapped[int] = mapped_column(sa.Integer, default=0)


def latency_bucket_column(execution_ms: int) -> str:
    """The usage_daily column that counts a call that ran for `execution_ms`."""
    for bound in LATENCY_BUCKETS_MS:
        if execution_ms <= bound:
            return f"latency_le_{bound}"
    return f"latency_gt_{LATENCY_BUCKETS_MS[-1]}"


LATENCY_COLUMNS = (
    *(f"latency_le_{bound}" for bound in LATENCY_BUCKETS_MS),
    f"latency_gt_{LATENCY_BUCKETS_MS[-1]}",
)
