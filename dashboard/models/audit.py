"""The record of what support staff did, and to whom."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, new_id, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    actor_email: Mapped[str | None] = mapped_column(sa.Text)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    subject_email: Mapped[str | None] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.Text)  # e.g. "impersonation.start"
    details: Mapped[dict | None] = mapped_column(Json)
    ip: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
