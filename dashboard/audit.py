"""The audit trail: who did what, to whom, when, and from where: the support side, and the
members of an organisation (whose events its members read on its members page).

Written here by every feature that acts for staff (keys, account, support, the tool runtime);
read on the staff console (dashboard/support/audit.py).
"""

from datetime import datetime

from flask import has_request_context, request

from dashboard.extensions import db
from dashboard.models import AuditEvent, User, utcnow

KNOWN_ACTIONS = (
    "account.settings",
    "impersonation.start",
    "impersonation.end",
    "impersonation.action",
    "impersonation.read",
    "key.expire",
    "key.create",
    "key.edit",
    "key.roll",
    "key.move",
    "key.leaked",
    "organisation.create",
    "organisation.settings",
    "organisation.invite",
    "organisation.invite_resend",
    "organisation.invite_revoke",
    "organisation.join",
    "organisation.role_change",
    "organisation.remove_member",
    "organisation.leave",
    "organisation.transfer",
    "organisation.delete",
    "portal.settings",
    "user.role",
    "user.plan",
)
# How each action reads on the audit page and in its filter (the raw name stays in the data).
ACTION_WORDS = {
    "account.settings": "Changed the account's settings",
    "impersonation.start": "Started viewing as customer",
    "impersonation.end": "Stopped viewing as customer",
    "impersonation.action": "Acted while viewing",
    "impersonation.read": "Read a page while viewing",
    "key.create": "Created a key",
    "key.edit": "Changed a key",
    "key.roll": "Rolled a key",
    "key.expire": "Expired a key",
    "key.move": "Moved a key",
    "key.leaked": "A key was reported leaked",
    "organisation.create": "Created the organisation",
    "organisation.settings": "Changed the organisation's settings",
    "organisation.invite": "Invited a member",
    "organisation.invite_resend": "Sent an invitation again",
    "organisation.invite_revoke": "Withdrew an invitation",
    "organisation.join": "Joined",
    "organisation.role_change": "Changed a member's role",
    "organisation.remove_member": "Removed a member",
    "organisation.leave": "Left",
    "organisation.transfer": "Transferred ownership",
    "organisation.delete": "Deleted the organisation",
    "portal.settings": "Changed the developer portal",
    "user.role": "Changed role",
    "user.plan": "Changed plan",
}


def record_event(
    action: str,
    *,
    actor: User | None,
    subject: User | None,
    details: dict | None = None,
    commit: bool = True,
) -> AuditEvent:
    """Write one audit row with the actor, subject, details and the request's IP."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        subject_id=subject.id if subject else None,
        subject_email=subject.email if subject else None,
        action=action,
        details=details or {},
        ip=request.remote_addr if has_request_context() else None,
        created_at=_to_milliseconds(utcnow()),
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def _to_milliseconds(value: datetime) -> datetime:
    """PostgreSQL keeps TIMESTAMP(3); cutting here keeps keyset cursors exact on both backends."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
