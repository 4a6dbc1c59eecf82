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

    # Revision 0012: a key's own monthly cap (None: the account's quota only), and test mode.
    monthly_call_cap: Mapped[int | None] = mapped_column(sa.Integer)
    is_test: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Revision 0014: when the key was deleted (None: not deleted). A deleted key also has
    # revoked_at (it stopped at once) and is gone from every list, but its row stays, so its
    # log rows, rollups and the month's usage keep naming it ("deleted key <prefix>").
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)

    user = relationship("User", back_populates="api_keys")

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix}… {self.name!r}>"


class RootKey(db.Model):
    """A management secret (`tk_root_…`) of an account: it manages keys and reads usage and logs
    by its scopes; it never calls tools. `key_hash` is the secret's SHA-256."""

    __tablename__ = "root_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.Text)
    key_hash: Mapped[str] = mapped_column(sa.Text, unique=True)
    prefix: Mapped[str] = mapped_column(sa.Text)
    scopes: Mapped[list] = mapped_column(Json)
    allowed_ips: Mapped[list | None] = mapped_column(Json)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)

    def __repr__(self) -> str:
        return f"<RootKey {self.prefix}… {self.name!r}>"


class IdempotentRequest(db.Model):
    """The answer to a management write sent with an Idempotency-Key (per root key)."""

    __tablename__ = "idempotent_requests"

    root_key_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("root_keys.id", ondelete="CASCADE"), primary_key=True
    )
    idempotency_key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[int | None] = mapped_column(sa.Integer)
    body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
