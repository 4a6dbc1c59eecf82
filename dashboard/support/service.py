"""The support console: search, a customer's view, and super admins' role and plan changes."""

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from dashboard.alerts.service import recent_alerts, settings_for, watched_key_ids
from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.keys.rules import shown_status
from dashboard.keys.secrets import DISPLAY_PREFIX_LENGTH
from dashboard.models import ApiKey, ToolLog, User, utcnow
from dashboard.paging import Keyset
from dashboard.plans import all_plans
from dashboard.revocation import account_changed
from dashboard.usage.service import Usage, month_usage, parse_month
from dashboard.webhooks.service import endpoints_of, recent_deliveries

SEARCH_PAGE_SIZE = 25
KEY_PREFIX_START = "tk_"  # every secret starts so (keys.secrets.SECRET_PREFIX begins with it)
ROLES = ("user", "support")
# Search results page by email, A to Z (emails are unique); `after` is the last one shown.
BY_EMAIL = Keyset((User.email,), descending=False)


class NotAllowed(Exception):
    """The change is against the rules; the message says why, for the person who asked."""


@dataclass(frozen=True)
class SearchPage:
    users: list[User]
    kind: str  # "email", "id" or "key"
    next_after: str | None  # the email to continue after, when there is a next page


def search_kind(query: str) -> str:
    """What the query looks like: a user id, a key prefix, or (else) part of an email."""
    try:
        uuid.UUID(query)
    except ValueError:
        pass
    else:
        return "id"
    return "key" if query.startswith(KEY_PREFIX_START) else "email"


def search_users(query: str, after: str | None = None, size: int = SEARCH_PAGE_SIZE) -> SearchPage:
    """Accounts matching an email fragment, a user id or a key prefix; pages of `size` by email."""
    query = query.strip()
    kind = search_kind(query)
    if kind == "id":
        conditions = [User.id == uuid.UUID(query)]
    elif kind == "key":
        # A pasted whole secret still finds its key: only the shown prefix is compared.
        owners = sa.select(ApiKey.user_id).where(
            ApiKey.prefix.startswith(query[:DISPLAY_PREFIX_LENGTH], autoescape=True)
        )
        conditions = [User.id.in_(owners)]
    else:
        conditions = [sa.func.lower(User.email).contains(query.lower(), autoescape=True)]
    page = BY_EMAIL.page(sa.select(User), conditions, at=(after,) if after else None, size=size)
    next_after = page.following[0] if page.following else None
    return SearchPage(users=page.rows, kind=kind, next_after=next_after)


def keys_overview(user: User) -> list[dict]:
    """The user's keys as support sees them: prefix, name, status and dates, never the hash."""
    now = utcnow()
    keys = db.session.scalars(
        sa.select(ApiKey)
        .where(ApiKey.user_id == user.id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return [
        {
            "prefix": key.prefix,
            "name": key.name,
            "status": shown_status(key, now),
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "last_request_at": key.last_request_at,
            "rate_limit_per_minute": key.rate_limit_per_minute,
        }
        for key in keys
    ]


def latest_errors(user: User, limit: int = 10) -> list:
    """The user's latest failed calls, with the prefix of the key that made each one."""
    return db.session.execute(
        sa.select(
            ToolLog.created_at,
            ToolLog.tool_name,
            ToolLog.tool_version,
            ToolLog.error_code,
            ToolLog.error_message,
            ApiKey.prefix.label("key_prefix"),
        )
        .join(ApiKey, ApiKey.id == ToolLog.api_key_id)
        .where(ToolLog.user_id == user.id, ToolLog.status == "error")
        .order_by(ToolLog.created_at.desc(), ToolLog.id.desc())
        .limit(limit)
    ).all()


def this_month_usage(user: User, today: date | None = None) -> Usage:
    """This month's numbers for the user, exactly as their usage page shows them."""
    first, following = parse_month(None, today or utcnow().date())
    return month_usage(user.id, user.subscription_plan, first, following)


def impersonation_refusal(actor: User, subject: User) -> str | None:
    """Why `actor` may not view as `subject`, or None when they may."""
    if not actor.is_staff:
        return "Only support staff can view as a customer."
    if subject.id == actor.id:
        return "You cannot view as yourself."
    if subject.is_super_admin:
        return "Nobody can view as a super admin."
    if subject.role == "support":
        return "Nobody can view as a support person."
    if subject.is_disabled:
        return "This account is disabled, so there is nothing to view as it."
    return None


def change_role(actor: User, subject: User, role: str) -> bool:
    """Grant or remove the support role (super admins only); True when it changed."""
    if not actor.is_super_admin:
        raise NotAllowed("Only super admins can change roles.")
    if role not in ROLES:
        raise NotAllowed("That is not a role.")
    if subject.is_super_admin:
        raise NotAllowed("Super admins are managed with `flask users promote-admin`.")
    old = subject.role
    if old == role:
        return False
    subject.role = role
    record_event(
        "user.role", actor=actor, subject=subject, details={"old": old, "new": role}, commit=False
    )
    db.session.commit()
    return True


def change_plan(actor: User, subject: User, plan: str) -> bool:
    """Move the user to another plan (super admins only); True when it changed."""
    if not actor.is_super_admin:
        raise NotAllowed("Only super admins can change plans.")
    if plan not in {p.name for p in all_plans()}:
        raise NotAllowed("That is not a plan.")
    old = subject.subscription_plan
    if old == plan:
        return False
    subject.subscription_plan = plan
    record_event(
        "user.plan", actor=actor, subject=subject, details={"old": old, "new": plan}, commit=False
    )
    db.session.commit()
    account_changed(subject.id)  # the plan's limits apply from the next call on every worker
    return True


def alerting_overview(user_id: uuid.UUID) -> dict:
    """What support staff see of an account's alerting: settings, endpoints, latest deliveries."""
    return {
        "settings": settings_for(user_id),
        "watched_keys": len(watched_key_ids(user_id)),
        "alerts": recent_alerts(user_id, limit=10),
        "endpoints": endpoints_of(user_id),
        "deliveries": recent_deliveries(user_id, limit=10),
    }
