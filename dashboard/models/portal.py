"""The developer portal's settings that a super admin changed (dashboard/portal/settings.py)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, utcnow

# The one row's id: the table holds the operator's portal, of which there is one.
PORTAL_SETTINGS_ID = 1


class PortalOverrides(db.Model):
    """The super admin's choices for the portal; NULL (or no row): as configured (PORTAL_*)."""

    __tablename__ = "portal_settings"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="ck_portal_settings_one_row"),
        sa.CheckConstraint(
            "public_tools_choice IN ('all', 'chosen')",
            name="ck_portal_settings_public_tools_choice",
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    title: Mapped[str | None] = mapped_column(sa.Text)
    tagline: Mapped[str | None] = mapped_column(sa.Text)
    logo_url: Mapped[str | None] = mapped_column(sa.Text)
    # Markdown, rendered and sanitised where it is shown (dashboard/portal/settings.py).
    intro: Mapped[str | None] = mapped_column(sa.Text)
    # None: PORTAL_PUBLIC_TOOLS decides; "all": every tool; "chosen": the names in public_tools.
    public_tools_choice: Mapped[str | None] = mapped_column(sa.Text)
    public_tools: Mapped[list] = mapped_column(Json, default=list)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
