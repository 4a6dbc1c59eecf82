"""Accounts, and the super admins that the seed reaches with raw SQL."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import db
from dashboard.models.types import Timestamp, Uuid, new_id, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    subscription_plan: Mapped[str] = mapped_column(sa.Text, default="free")
    role: Mapped[str] = mapped_column(sa.Text, default="user")
    # Dashboard additions (revision 0002).
    password_hash: Mapped[str | None] = mapped_column(sa.Text)
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp)
    is_disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Accounts (revision 0003): a verified address, two-factor sign-in.
    email_verified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    totp_secret: Mapped[str | None] = mapped_column(sa.Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(Timestamp)

    api_keys = relationship("ApiKey", back_populates="user", passive_deletes=True)
    super_admin = relationship("SuperAdmin", foreign_keys="SuperAdmin.user_id", uselist=False)

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return not self.is_disabled

    @property
    def is_super_admin(self) -> bool:
        return self.super_admin is not None

    @property
    def is_staff(self) -> bool:
        """Support staff or super admin: may open the support console."""
        return self.role == "support" or self.is_super_admin

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class SuperAdmin(db.Model):
    __tablename__ = "super_admins"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
