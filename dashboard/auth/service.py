"""Accounts: creating them and checking who someone is."""

import uuid

import sqlalchemy as sa
from sqlalchemy import orm

from dashboard.auth.passwords import DUMMY_HASH, hash_password, password_matches
from dashboard.extensions import db
from dashboard.models import User, utcnow
from dashboard.models.types import parse_uuid


class EmailTaken(Exception):
    """Another account already uses this email address."""


def normalise_email(email: str) -> str:
    """Emails are compared case-insensitively; we store them lowercased and trimmed."""
    return email.strip().lower()


def user_by_email(email: str) -> User | None:
    """The account with this email, whatever its case."""
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.email) == normalise_email(email))
    )


def user_by_id(user_id: str | uuid.UUID) -> User | None:
    """The account with this id, or None for an unknown or malformed id."""
    key = parse_uuid(user_id)
    if key is None:
        return None
    # The super-admin row comes in the same query: every page's menu asks for it.
    return db.session.get(User, key, options=[orm.joinedload(User.super_admin)])


def create_user(email: str, password: str, plan: str = "free", role: str = "user") -> User:
    """A new account; raises EmailTaken when the address is in use."""
    email = normalise_email(email)
    if user_by_email(email) is not None:
        hash_password(password)  # as long as a new account takes
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=hash_password(password),
        subscription_plan=plan,
        role=role,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except sa.exc.IntegrityError as error:  # a concurrent sign-up won the race
        db.session.rollback()
        raise EmailTaken(email) from error
    return user


def register(email: str, password: str) -> User | None:
    """Sign up: a new account, or None when the address is taken (after the same work)."""
    try:
        return create_user(email, password)
    except EmailTaken:  # create_user hashed the password anyway: both answers take as long
        return None


def authenticate(email: str, password: str) -> User | None:
    """The account when email and password match, else None (same work either way).

    Unknown emails and accounts without a password (adopted from the Prisma service) check
    the password against a dummy hash, so they answer as slowly as a wrong password."""
    user = user_by_email(email)
    if user is None or not user.password_hash:
        password_matches(DUMMY_HASH, password)
        return None
    if not password_matches(user.password_hash, password):
        return None
    return user


def record_login(user: User) -> None:
    """Remember when the account last logged in."""
    user.last_login_at = utcnow()
    db.session.commit()


def confirm_email(user: User) -> bool:
    """The account's address is proven to be theirs; True for the one call that confirmed it.

    One conditional UPDATE, so of two parallel opens of a sign-up link only one is told True
    (and logs in)."""
    confirmed = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.email_verified_at.is_(None))
        .values(email_verified_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(user)
    return confirmed.rowcount == 1


def set_password(user: User, password: str) -> None:
    """A new password (also the first one of an account adopted from the Prisma service)."""
    user.password_hash = hash_password(password)
    db.session.commit()


def switch_email(user: User, new_email: str) -> bool:
    """Give the account its new, confirmed address; False when another account has it."""
    new_email = normalise_email(new_email)
    if user_by_email(new_email) is not None:
        return False
    user.email = new_email
    user.email_verified_at = utcnow()
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False
    return True
