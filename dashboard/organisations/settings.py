"""Settings of an account (a person's own or an organisation) that belong to no feature's
table: today, what a leak report of one of its keys does (dashboard/keys/leaks.py)."""

import uuid

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.models import AccountSettings, User, utcnow

# What a key reported leaked by a secret scanner gets; the owners are emailed either way.
LEAKED_KEY_ACTIONS = {
    "expire": "Expire it at once (recommended)",
    "alert": "Keep it working and alert the owners",
}
DEFAULT_LEAKED_KEY_ACTION = "expire"


def leaked_key_action(account_id: uuid.UUID) -> str:
    """`expire` or `alert`: the account's choice, `expire` when it never chose."""
    settings = db.session.get(AccountSettings, account_id)
    return settings.leaked_key_action if settings else DEFAULT_LEAKED_KEY_ACTION


def set_leaked_key_action(account: User, action: str, *, actor: User, commit: bool = True) -> bool:
    """Store the account's choice (with an audit row when it changes); True if it changed."""
    if action not in LEAKED_KEY_ACTIONS:
        raise ValueError(f"Unknown leaked key action {action!r}")
    settings = db.session.get(AccountSettings, account.id)
    before = settings.leaked_key_action if settings else DEFAULT_LEAKED_KEY_ACTION
    if settings is None:
        settings = AccountSettings(account_id=account.id)
        db.session.add(settings)
    settings.leaked_key_action = action
    settings.updated_at = utcnow()
    changed = action != before
    if changed:
        record_event(
            "account.settings",
            actor=actor,
            subject=account,
            details={"leaked_key_action": action},
            commit=False,
        )
    if commit:
        db.session.commit()
    return changed
