"""What keeps an account safe: sign-in sessions, viewing-as records, security history, 2FA codes."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import db
from dashboard.models.types import Json, Timestamp, Uuid, new_id, utcnow


class StoredSession(db.Model):
    """The data of one browser session on the embedded default (Redis holds it in production).

    The cookie carries only `session_id`; Flask-Session reads and writes `data` here.
    """

    __tablename__ = "web_sessions"

    session_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class UserSession(db.Model):
    """One signed-in browser of an account: what the account page lists and can end."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    ip: Mapped[str | None] = mapped_column(sa.Text)
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_reason: Mapped[str | None] = mapped_column(sa.Text)


class Impersonation(db.Model):
    """A support person viewing as a customer, tied to the support person's session."""

    __tablename__ = "impersonations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    subject_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_how: Mapped[str | None] = mapped_column(sa.Text)

    actor = relationship("User", foreign_keys=[actor_id])
    subject = relationship("User", foreign_keys=[subject_id])

    @property
    def subject_email(self) -> str:
        return self.subject.email

    @property
    def minutes_left(self) -> int:
        return max(0, round((self.ends_at - utcnow()).total_seconds() / 60))


class SecurityEvent(db.Model):
    """The customer-visible security history: sign-ins, password and email changes, 2FA."""

    __tablename__ = "security_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.Text)  # e.g. "password.change"
    details: Mapped[dict | None] = mapped_column(Json)
    ip: Mapped[str | None] = mapped_column(sa.Text)
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (sa.Index("security_events_user_time", "user_id", "created_at"),)


class RecoveryCode(db.Model):
    """A two-factor recovery code, stored hashed, good once."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.Text)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)


class AccountSecurity(db.Model):
    """What an account's emailed links and TOTP codes are checked against (made when needed)."""

    __tablename__ = "account_security"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Emailed links carry the generation they were made in; adding one cancels them all.
    link_generation: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # The last TOTP time step accepted: a code of that step or an earlier one is refused.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)


class AccountSettings(db.Model):
    """Settings of an account (a person or an organisation) that no feature's own table holds;
    no row: the defaults."""

    __tablename__ = "account_settings"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # `expire` or `alert`: what a leak report of one of its keys does (dashboard/keys/leaks.py).
    leaked_key_action: Mapped[str] = mapped_column(sa.Text, default="expire")
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
