"""API keys. `key` holds the SHA-256 of the secret, never the secret."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, new_id, utcnow


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.Text, unique=True)  # hex SHA-256 of the secret
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    rate_limit_per_minute: Mapped[int] = mapped_column(sa.Integer, default=100)
    last_request_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Dashboard additions (revision 0002).
    name: Mapped[str] = mapped_column(sa.Text, default="")
    prefix: Mapped[str] = mapped_column(sa.Text, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
    allowed_tools: Mapped[list | None] = mapped_column(Json)  # tool names; None = all
    allowed_ips: Mapped[list | None] = mapped_column(Json)  # IPs/CIDRs; None = anywhere
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, sa.ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    grace_ends_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Revision 0009: a short-lived key the dashboard made to run a tool's playground.
    is_playground: Mapped[bool] = mapped_column(
        sa.Boolean, default=False, server_default=sa.false()
    )

    user = relationship("User", back_populates="api_keys")

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix}… {self.name!r}>"
