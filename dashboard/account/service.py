"""Changing and deleting one's own account."""

from dashboard.auth.passwords import hash_password, password_matches
from dashboard.extensions import db
from dashboard.models import User
from dashboard.revocation import account_changed


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password when `current` is right; False otherwise."""
    if not password_matches(user.password_hash, current):
        return False
    user.password_hash = hash_password(new)
    db.session.commit()
    return True


def delete_account(user: User) -> None:
    """Delete the account; its keys, logs and usage go with it (ON DELETE CASCADE), and every
    worker stops accepting its keys from the next call on."""
    user_id = user.id
    db.session.delete(user)
    db.session.commit()
    account_changed(user_id)
