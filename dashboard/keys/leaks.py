"""Keys reported leaked by a secret scanner (GitHub's secret-scanning partner programme sends
them to POST /api/v1/leaks, dashboard/api/leaks.py, once it has checked their signature).

A reported token that is one of our secrets (its checksum holds, or it has the shape of a secret
made before checksums, and its SHA-256 is an API or root key's) is a true positive: the key is
expired, or only flagged when its account chose so, the account's owners are emailed (whatever
their alert settings) and `key.leaked` is raised for its webhooks; an audit row names where it
was found. Anything else is a false positive and changes nothing.
"""

import hashlib
import re
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.alerts.key_events import Actor
from dashboard.alerts.service import raise_alert
from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.keys.root import working
from dashboard.keys.rules import key_status
from dashboard.keys.secrets import has_valid_checksum, hash_secret
from dashboard.keys.service import expire_key
from dashboard.models import ApiKey, RootKey, User, utcnow
from dashboard.organisations.settings import leaked_key_action

# Secrets made before checksums (issue 28): still keys, so still worth a lookup when reported.
OLD_FORMAT = re.compile(r"tk_(live|root)_[A-Za-z0-9_-]{43}")
TEXT_MAX = 2000  # of a url or source kept in the audit row and the email
# Who expires a leaked key, in its key.expired event.
SCANNER = Actor("system", None, name="Secret scanning (leak report)")


@dataclass(frozen=True)
class LeakedKey:
    """A key a report named: which kind, which row, whose, and what was done."""

    kind: str  # "api" or "root"
    key: ApiKey | RootKey
    account_id: object
    action: str  # "expired", "flagged" or "already_stopped"


def could_be_ours(token: str) -> bool:
    """Whether a token is worth a database lookup: checked offline, without one."""
    return has_valid_checksum(token) or OLD_FORMAT.fullmatch(token) is not None


def find_reported_key(token: str) -> tuple[str, ApiKey | RootKey] | None:
    """The API or root key whose secret is `token`, or None (without a query for noise)."""
    if not could_be_ours(token):
        return None
    key_hash = hash_secret(token)
    api_key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key == key_hash))
    if api_key is not None:
        return "api", api_key
    root_key = db.session.scalar(sa.select(RootKey).where(RootKey.key_hash == key_hash))
    if root_key is not None:
        return "root", root_key
    return None


def report_leak(token: str, url: str, source: str) -> LeakedKey | None:
    """Act on one reported token: the key it is and what was done, or None (not ours)."""
    found = find_reported_key(token)
    if found is None:
        return None
    kind, key = found
    account_id = key.user_id if kind == "api" else key.account_id
    now = utcnow()
    still_works = (
        key_status(key, now) in ("active", "rolled") if kind == "api" else working(key, now)
    )
    if not still_works:
        action = "already_stopped"
    elif leaked_key_action(account_id) == "alert":
        action = "flagged"
    else:
        action = "expired"
        stop(kind, key, now)
    url, source = url[:TEXT_MAX], source[:TEXT_MAX]
    details = {
        "key_kind": kind,
        "key_id": str(key.id),
        "key_name": key.name,
        "key_prefix": key.prefix,
        "url": url,
        "source": source,
        "action": action,
    }
    record_event(
        "key.leaked", actor=None, subject=db.session.get(User, account_id), details=details
    )
    if action != "already_stopped":
        # Once per key and place: the same finding sent again tells no one twice.
        place = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        raise_alert(
            account_id, "key.leaked", f"key_leaked:{key.id}:{place}", details, force_email=True
        )
    return LeakedKey(kind, key, account_id, action)


def stop(kind: str, key: ApiKey | RootKey, now) -> None:
    """Expire an API key (every worker refuses it within a second) or revoke a root key (read
    on every use)."""
    if kind == "api":
        expire_key(key, actor=SCANNER, now=now)
    else:
        key.revoked_at = now
        db.session.commit()
