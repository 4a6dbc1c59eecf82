"""Signed, expiring links sent by email: confirm an address, reset a password, change an email.

Each token is signed with SECRET_KEY and a purpose of its own (a reset token is no verification
token). Single use comes from what each token carries: a reset names a fingerprint of the
current password hash (setting a password changes it), an email change and a verification name
the address they were made for (changing or confirming it makes them stale).

Every token also carries the account's link generation (`dashboard/stamps.py`): a password
change, a reset and "log out everywhere else" add one to it, and every link sent before then
answers "cancelled". So a pending email change dies with the steps its notice tells the owner
to take.

A fresh sign-up's confirmation link also logs its opener in (no second password entry): its
token says so ("s"), works for that only within SIGNUP_LINK_LOGIN_MINUTES, and only once: the
open that confirms the address is the one that logs in (`confirm_email` claims it in one
statement), every later open finds the address confirmed and is refused as used.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from dashboard.auth.service import user_by_id
from dashboard.models import User
from dashboard.stamps import link_generation

VERIFY = "email-verify"
RESET = "password-reset"
CHANGE = "email-change"


class TokenProblem(Exception):
    """A link that cannot be used; `reason` is expired, used, cancelled or invalid."""

    def __init__(self, reason: str, purpose: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.purpose = purpose


@dataclass(frozen=True)
class EmailChange:
    user: User
    new_email: str


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def _lifetime(purpose: str) -> timedelta:
    config = current_app.config
    return {
        VERIFY: timedelta(hours=config["EMAIL_VERIFY_HOURS"]),
        RESET: timedelta(minutes=config["PASSWORD_RESET_MINUTES"]),
        CHANGE: timedelta(hours=config["EMAIL_CHANGE_HOURS"]),
    }[purpose]


@dataclass(frozen=True)
class Confirmation:
    user: User
    signs_in: bool  # a fresh sign-up's link, opened within SIGNUP_LINK_LOGIN_MINUTES


def _load_stamped(purpose: str, token: str) -> tuple[dict, datetime]:
    """The token's data and when it was signed."""
    try:
        data, signed_at = _serializer(purpose).loads(
            token, max_age=int(_lifetime(purpose).total_seconds()), return_timestamp=True
        )
    except SignatureExpired:
        raise TokenProblem("expired", purpose) from None
    except BadSignature:
        raise TokenProblem("invalid", purpose) from None
    if not isinstance(data, dict):
        raise TokenProblem("invalid", purpose)
    return data, signed_at


def _load(purpose: str, token: str) -> dict:
    return _load_stamped(purpose, token)[0]


def password_fingerprint(user: User) -> str:
    """Changes whenever the password does (also from none to one)."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def _dumps(purpose: str, user: User, **data) -> str:
    return _serializer(purpose).dumps({"u": str(user.id), "g": link_generation(user), **data})


def verification_token(user: User, signs_in: bool = False) -> str:
    """`signs_in`: only for the mail sign-up itself sends (never a resend or an address change)."""
    if signs_in:
        return _dumps(VERIFY, user, e=user.email, s=1)
    return _dumps(VERIFY, user, e=user.email)


def reset_token(user: User) -> str:
    return _dumps(RESET, user, p=password_fingerprint(user))


def email_change_token(user: User, new_email: str) -> str:
    return _dumps(CHANGE, user, o=user.email, n=new_email)


def _user_of(data: dict, purpose: str) -> User:
    user = user_by_id(data.get("u", ""))
    if user is None or user.is_disabled:
        raise TokenProblem("invalid", purpose)
    return user


def _not_cancelled(data: dict, user: User, purpose: str) -> None:
    """Checked after "used": a link that did its job says so, not that it was cancelled."""
    if data.get("g") != link_generation(user):
        raise TokenProblem("cancelled", purpose)


def user_to_verify(token: str) -> Confirmation:
    """The account whose address this link confirms, and whether opening it logs in.

    A sign-up link whose address is confirmed already did its job (it logged someone in once):
    it is refused as used, so a copy of it never logs in again."""
    data, signed_at = _load_stamped(VERIFY, token)
    user = _user_of(data, VERIFY)
    signs_in = data.get("s") == 1
    if data.get("e") != user.email or (signs_in and user.email_verified):
        raise TokenProblem("used", VERIFY)
    _not_cancelled(data, user, VERIFY)
    window = timedelta(minutes=current_app.config["SIGNUP_LINK_LOGIN_MINUTES"])
    return Confirmation(user, signs_in and datetime.now(UTC) - signed_at <= window)


def user_to_reset(token: str) -> User:
    """The account whose password this link may set (once)."""
    data = _load(RESET, token)
    user = _user_of(data, RESET)
    if data.get("p") != password_fingerprint(user):
        raise TokenProblem("used", RESET)
    _not_cancelled(data, user, RESET)
    return user


def email_change_of(token: str) -> EmailChange:
    """The account and its new address, while the old address is still the current one."""
    data = _load(CHANGE, token)
    user = _user_of(data, CHANGE)
    if data.get("o") != user.email or not isinstance(data.get("n"), str):
        raise TokenProblem("used", CHANGE)
    _not_cancelled(data, user, CHANGE)
    return EmailChange(user, data["n"])
