"""Two-factor sign-in with TOTP (pyotp): secrets, codes, the QR code and recovery codes."""

import hashlib
import secrets

import pyotp
import segno
import sqlalchemy as sa
from markupsafe import Markup

from dashboard.extensions import db
from dashboard.models import RecoveryCode, User, utcnow
from dashboard.stamps import claim_totp_step

ISSUER = "Toolbox"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The QR code as inline SVG, made here (no third-party service sees the secret)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704 (segno's own SVG, built from our data)


def code_step(secret: str, code: str, at=None) -> int | None:
    """The time step whose 6-digit code for `secret` this is, allowing one 30-second step of
    clock drift either way; None when it is no such code."""
    code = (code or "").replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code, for_time=at, valid_window=1)
    except pyotp.exceptions.OTPVerificationError:
        return None


def code_is_right(secret: str, code: str, at=None) -> bool:
    """A 6-digit code for `secret` (whether or not it was used before)."""
    return code_step(secret, code, at) is not None


def _hash(code: str) -> str:
    # Codes are 50 random bits: a fast hash is enough, a stolen table gives nothing to guess.
    return hashlib.sha256(code.replace("-", "").lower().encode()).hexdigest()


def enable(user: User, secret: str, step: int) -> list[str]:
    """Turn two-factor on with `secret`, proven by a code of `step` (which is now used); the new
    recovery codes, to show once."""
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    claim_totp_step(user, step)
    return replace_recovery_codes(user)


def replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    db.session.commit()
    return codes


def disable(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.commit()


def use_recovery_code(user: User, code: str) -> bool:
    """True (and the code is spent) when `code` is one of the account's unused codes."""
    row = db.session.scalar(
        sa.select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code or ""),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    db.session.commit()
    return True


def second_factor_ok(user: User, code: str) -> str | None:
    """ "totp" or "recovery" when `code` passes; "used" for a right code of a time step that
    was used already (or is older than the last one used): each code works once."""
    step = code_step(user.totp_secret, code) if user.totp_secret else None
    if step is not None:
        return "totp" if claim_totp_step(user, step) else "used"
    if use_recovery_code(user, code.strip()):
        return "recovery"
    return None
