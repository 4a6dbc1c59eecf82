"""The audit trail as staff and customers read it: the audit page (filters, keyset pages) and
what support did in an account. Rows are written by dashboard/audit.py."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import AuditEvent, Organisation
from dashboard.paging import Keyset, encode_cursor, read_cursor

AUDIT_PAGE_SIZE = 50
# What the customer sees on their account page: support looking in, and what support did there.
CUSTOMER_VISIBLE_ACTIONS = ("impersonation.start", "impersonation.action", "key.expire")


def support_access_for(user) -> list[AuditEvent]:
    """The last 20 times support viewed this account or acted in it, newest first.

    Who acted is the actor recorded: the account's own actions (a customer expiring their own
    key writes `key.expire` too, with themselves as the actor) are not support's.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.subject_id == user.id,
                AuditEvent.action.in_(CUSTOMER_VISIBLE_ACTIONS),
                # a NULL actor is a staff account deleted since; owners act on their own rows
                sa.or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id != user.id),
            )
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(20)
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor: str = ""
    subject: str = ""
    since: date | None = None
    until: date | None = None

    def conditions(self) -> list:
        """SQL conditions for the filled-in fields."""
        found = []
        if self.action:
            found.append(AuditEvent.action == self.action)
        if self.actor:
            found.append(_email_contains(AuditEvent.actor_email, self.actor))
        if self.subject:
            found.append(_subject_matches(self.subject))
        if self.since:
            found.append(AuditEvent.created_at >= datetime.combine(self.since, time.min))
        if self.until:
            following = datetime.combine(self.until + timedelta(days=1), time.min)
            found.append(AuditEvent.created_at < following)
        return found


def _email_contains(column, text: str):
    return sa.func.lower(column).contains(text.strip().lower(), autoescape=True)


def _subject_matches(text: str):
    """Events whose subject's email holds `text`, or whose subject is an organisation with
    `text` in its name or slug (its recorded email is a made-up address nobody searches for)."""
    text = text.strip().lower()
    organisations = sa.select(Organisation.user_id).where(
        sa.or_(
            sa.func.lower(Organisation.name).contains(text, autoescape=True),
            Organisation.slug.contains(text, autoescape=True),
        )
    )
    return sa.or_(
        _email_contains(AuditEvent.subject_email, text),
        AuditEvent.subject_id.in_(organisations),
    )


def organisations_among(events: list[AuditEvent]) -> dict:
    """The organisations that are subjects of these events, by account id (the page names
    them instead of their made-up address)."""
    ids = {event.subject_id for event in events if event.subject_id is not None}
    if not ids:
        return {}
    found = db.session.scalars(sa.select(Organisation).where(Organisation.user_id.in_(ids)))
    return {organisation.user_id: organisation for organisation in found}


# Newest first; (created_at, id) is unique, so a page never skips or repeats an event.
NEWEST_FIRST = Keyset((AuditEvent.created_at, AuditEvent.id))


def audit_page(
    filters: AuditFilter, before: str | None = None, size: int = AUDIT_PAGE_SIZE
) -> tuple[list[AuditEvent], str | None]:
    """One page of events, newest first, and the cursor of the next page (None at the end);
    a missing or malformed cursor starts from the newest."""
    page = NEWEST_FIRST.page(
        sa.select(AuditEvent), filters.conditions(), at=read_cursor(before), size=size
    )
    return page.rows, encode_cursor(*page.following) if page.following else None
