"""What metering keeps beside the log rows: refused calls per minute, failed calls per group."""

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import Timestamp, Uuid


class RejectedCalls(db.Model):
    """Calls refused before logging (rate limit, quota, concurrency): one row per key, tool,
    reason and minute with a count, so a flood costs one upsert per minute, not one row a call."""

    __tablename__ = "rejected_calls"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)  # UTC, seconds zeroed
    reason: Mapped[str] = mapped_column(sa.Text, primary_key=True)  # rate_limit|quota|concurrency
    tool_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(Timestamp)


class ErrorGroupDay(db.Model):
    """Failed calls of one day, key and error group (tool, version, code, message fingerprint),
    upserted by metering in the call's transaction; the errors inbox adds these rows up."""

    __tablename__ = "error_group_days"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)  # UTC
    tool_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    tool_version: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    error_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(Timestamp)
    last_at: Mapped[datetime] = mapped_column(Timestamp)
    message: Mapped[str] = mapped_column(sa.Text)  # the latest message of the group that day
    sample_log_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # the latest call of the group that day
