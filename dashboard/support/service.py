"""The support console: search, a customer's view, and super admins' role and plan changes."""

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy import orm

from dashboard.alerts.service import recent_alerts, settings_for, watched_key_ids
from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.keys.rules import shown_status
from dashboard.keys.secrets import DISPLAY_PREFIX_LENGTH
from dashboard.models import ApiKey, Membership, Organisation, ToolLog, User, utcnow
from dashboard.organisations.invitations import pending_of
from dashboard.organisations.service import (
    AccountChoice,
    accounts_of,
    members_of,
    organisation_of,
)
from dashboard.paging import Keyset
from dashboard.plans import all_plans
from dashboard.revocation import account_changed
from dashboard.usage.service import Usage, month_usage, parse_month
from dashboard.webhooks.service import endpoints_of, recent_deliveries

SEARCH_PAGE_SIZE = 25
KEY_PREFIX_START = "tk_"  # every secret starts so (keys.secrets.SECRET_PREFIX begins with it)
ROLES = ("user", "support")
# The name an account is listed by: an organisation's slug, a person's email. It is unique (slugs
# are unique and hold no "@", emails are unique and do), so it is a sound keyset order, and it
# reads well (an organisation's own email is a made-up `<hex>@organisations.invalid`).
LISTED_AS = sa.func.coalesce(Organisation.slug, User.email)
# Search results page by that name, A to Z; `after` is the last one shown.
BY_LISTED_NAME = Keyset((LISTED_AS,), descending=False)


class NotAllowed(Exception):
    """The change is against the rules; the message says why, for the person who asked."""


@dataclass(frozen=True)
class SearchResult:
    """One account found: a person (with the organisations they belong to) or an organisation
    (with its number of members)."""

    account: User
    organisation: Organisation | None
    members: int = 0
    belongs_to: tuple[Organisation, ...] = ()


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    kind: str  # "text", "id" or "key"
    next_after: str | None  # the listed name to continue after, when there is a next page


def search_kind(query: str) -> str:
    """What the query looks like: an account id, a key prefix, or (else) text to look for in
    emails, organisation names and slugs."""
    try:
        uuid.UUID(query)
    except ValueError:
        pass
    else:
        return "id"
    return "key" if query.startswith(KEY_PREFIX_START) else "text"


def search_conditions(query: str, kind: str) -> list:
    """Which accounts a query finds: by id; by key prefix (the key's owner, a person or an
    organisation); or by text in a person's email, an organisation's name or slug, or the email
    of one of its members (so a person's address also finds their organisations)."""
    if kind == "id":
        return [User.id == uuid.UUID(query)]
    if kind == "key":
        # A pasted whole secret still finds its key: only the shown prefix is compared.
        owners = sa.select(ApiKey.user_id).where(
            ApiKey.prefix.startswith(query[:DISPLAY_PREFIX_LENGTH], autoescape=True)
        )
        return [User.id.in_(owners)]
    text = query.lower()
    member = orm.aliased(User)
    with_such_members = (
        sa.select(Membership.organisation_id)
        .join(member, member.id == Membership.person_id)
        .where(sa.func.lower(member.email).contains(text, autoescape=True))
    )
    return [
        sa.or_(
            sa.func.lower(User.email).contains(text, autoescape=True),
            sa.func.lower(Organisation.name).contains(text, autoescape=True),
            Organisation.slug.contains(text, autoescape=True),
            User.id.in_(with_such_members),
        )
    ]


def search_accounts(
    query: str, after: str | None = None, size: int = SEARCH_PAGE_SIZE
) -> SearchPage:
    """Accounts matching the query (see `search_conditions`), `size` to a page by listed name."""
    query = query.strip()
    kind = search_kind(query)
    where = search_conditions(query, kind)
    if after:
        where.append(BY_LISTED_NAME.after((after,)))
    rows = db.session.execute(
        sa.select(User, Organisation, LISTED_AS)
        .outerjoin(Organisation, Organisation.user_id == User.id)
        .where(*where)
        .order_by(*BY_LISTED_NAME.order())
        .limit(size + 1)
    ).all()
    shown = rows[:size]
    members = member_counts([org.user_id for _, org, _ in shown if org is not None])
    belongs_to = organisations_of_people([user.id for user, org, _ in shown if org is None])
    results = [
        SearchResult(
            account=user,
            organisation=org,
            members=members.get(user.id, 0),
            belongs_to=tuple(belongs_to.get(user.id, ())),
        )
        for user, org, _ in shown
    ]
    next_after = shown[-1][2] if len(rows) > size else None
    return SearchPage(results=results, kind=kind, next_after=next_after)


def member_counts(organisation_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many members each of these organisations has."""
    if not organisation_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Membership.organisation_id, sa.func.count())
            .where(Membership.organisation_id.in_(organisation_ids))
            .group_by(Membership.organisation_id)
        ).all()
    )


def organisations_of_people(person_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Organisation]]:
    """The organisations each of these people belongs to, by name."""
    found: dict[uuid.UUID, list[Organisation]] = {}
    if not person_ids:
        return found
    rows = db.session.execute(
        sa.select(Membership.person_id, Organisation)
        .join(Organisation, Organisation.user_id == Membership.organisation_id)
        .where(Membership.person_id.in_(person_ids))
        .order_by(sa.func.lower(Organisation.name), Organisation.slug)
    ).all()
    for person_id, organisation in rows:
        found.setdefault(person_id, []).append(organisation)
    return found


def shown_name(account: User) -> str:
    """How the console names an account in messages: an organisation by its name and slug
    (never its made-up address), a person by their email."""
    organisation = organisation_of(account)
    if organisation is None:
        return account.email
    return f"{organisation.name} ({organisation.slug})"


@dataclass(frozen=True)
class PeopleOverview:
    """Who an account is about: an organisation's members and pending invitations, or the
    organisations a person belongs to."""

    organisation: Organisation | None
    members: list[tuple[Membership, User]]
    pending_invitations: int
    belongs_to: list[AccountChoice]


def people_overview(account: User) -> PeopleOverview:
    """The organisation behind an account with its members, or a person's organisations."""
    organisation = organisation_of(account)
    if organisation is None:
        return PeopleOverview(None, [], 0, accounts_of(account)[1:])  # [0] is their own
    return PeopleOverview(organisation, members_of(organisation), len(pending_of(organisation)), [])


def keys_overview(user: User) -> list[dict]:
    """The user's keys as support sees them: prefix, name, status and dates, never the hash
    (deleted keys too, with the status `deleted`: support explains the calls they made)."""
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
            "status": "deleted" if key.deleted_at else shown_status(key, now),
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
    if organisation_of(subject) is not None:
        raise NotAllowed(
            "An organisation has no role of its own: its people hold roles in it. "
            "Change a member's support role on that person's page."
        )
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
