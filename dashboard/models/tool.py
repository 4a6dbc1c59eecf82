"""The `tools` table mirrors the tool registry in code (synced by `flask tools sync`)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import Timestamp, Uuid, new_id, utcnow


class Tool(db.Model):
    __tablename__ = "tools"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[str] = mapped_column(sa.Text, default="v1")
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    endpoint_path: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
