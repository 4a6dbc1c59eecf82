"""The security history of an account: what the customer sees, and for staff, the audit trail."""

import sqlalchemy as sa
from flask import has_request_context, request

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.models import SecurityEvent, User

# What each event says on the account page.
EVENT_WORDS = {
    "login": "Logged in",
    "login.failed_code": "A wrong two-factor code was entered",
    "logout.others": "Logged out every other session",
    "session.end": "Ended a session",
    "password.change": "Password changed",
    "password.reset": "Password set by an emailed link",
    "email.verify": "Email address verified",
    "email.change": "Email address changed",
    "two_factor.enable": "Two-factor sign-in turned on",
    "two_factor.disable": "Two-factor sign-in turned off",
    "two_factor.recovery_code": "Logged in with a recovery code",
}
HISTORY_SIZE = 20
# Staff's changes to their own account also go to audit_events; their log-ins are in
# user_sessions and the history, and would drown the support actions in the audit log.
NOT_AUDITED = frozenset({"login"})


def record_security_event(user: User, action: str, details: dict | None = None) -> None:
    """One row of the account's history; staff accounts also get an audit_events row."""
    ip = request.remote_addr if has_request_context() else None
    agent = request.user_agent.string[:500] if has_request_context() else None
    db.session.add(
        SecurityEvent(
            user_id=user.id, action=action, details=details or {}, ip=ip, user_agent=agent
        )
    )
    if user.is_staff and action not in NOT_AUDITED:
        record_event(f"account.{action}", actor=user, subject=user, details=details, commit=False)
    db.session.commit()


def security_history(user: User) -> list[SecurityEvent]:
    """The account's latest security events, newest first."""
    return list(
        db.session.scalars(
            sa.select(SecurityEvent)
            .where(SecurityEvent.user_id == user.id)
            .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
            .limit(HISTORY_SIZE)
        )
    )
