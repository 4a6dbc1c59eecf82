"""The `tools` table: which tool versions are served, and the whole definition of upstream ones.

Built-in and plugin versions are defined in code and mirrored here by `flask tools sync`; an
upstream version (kind "upstream") is defined only here, by the catalog file
(TOOLS_CATALOG_FILE, managed_by "catalog") or the super-admin page (managed_by "page").
"""

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, new_id, utcnow


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
    # Added by 0007_upstream.
    kind: Mapped[str] = mapped_column(sa.Text, default="builtin")
    title: Mapped[str | None] = mapped_column(sa.Text)
    input_schema: Mapped[dict | None] = mapped_column(Json)
    output_schema: Mapped[dict | None] = mapped_column(Json)
    example_input: Mapped[dict | None] = mapped_column(Json)
    upstream_url: Mapped[str | None] = mapped_column(sa.Text)
    timeout_ms: Mapped[int | None] = mapped_column(sa.Integer)
    max_concurrency: Mapped[int | None] = mapped_column(sa.Integer)
    secret_ref: Mapped[str | None] = mapped_column(sa.Text)
    managed_by: Mapped[str | None] = mapped_column(sa.Text)  # "catalog" or "page"
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Added by 0015_deprecation_notices: an upstream version's life (the changelog, the
    # deprecation headers; built-in and plugin versions keep theirs in code).
    released_on: Mapped[date | None] = mapped_column(sa.Date)
    deprecated_on: Mapped[date | None] = mapped_column(sa.Date)
    sunset_on: Mapped[date | None] = mapped_column(sa.Date)
    replacement: Mapped[str | None] = mapped_column(sa.Text)


class DeprecationNotice(db.Model):
    """An account told (once, by email and an alert) that its keys called a deprecated tool
    version; the primary key makes "once" a database decision (migration 0015)."""

    __tablename__ = "deprecation_notices"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tool_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    tool_version: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
