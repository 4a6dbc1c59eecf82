"""Invitations to an organisation: an emailed link, expiring and single-use, for one address.

The link carries a random secret; only its SHA-256 is kept, so the table cannot be turned back
into links. Resending makes a new secret (the old link stops working), revoking and accepting
are single conditional statements, so a link is used at most once however often it is opened
at the same time. Inviting answers the same whether the address has an account or not: the
message is the same and is sent either way (the invitee signs up or logs in from the link).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.mail import send_email_or_log
from dashboard.models import Invitation, Membership, Organisation, User, utcnow
from dashboard.organisations.roles import Permission, Role, allows
from dashboard.organisations.service import MembershipRefused, role_in
from dashboard.public_url import public_url_for

PENDING_MAX = 50  # invitations waiting at once per organisation


class InvitationProblem(Exception):
    """A link that cannot be used: `reason` is invalid, expired, used, revoked or
    other_address (the invitation was sent to someone else)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Sent:
    invitation: Invitation
    link: str


def hashed(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime() -> timedelta:
    return timedelta(days=current_app.config["INVITATION_DAYS"])


def address(email: str) -> str:
    """The address as kept (lowercased), or MembershipRefused saying what is wrong with it."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise MembershipRefused("Enter an email address such as name@example.com.") from None
    return checked.normalized.lower()


def pending_of(organisation: Organisation) -> list[Invitation]:
    """Invitations neither accepted nor revoked (expired ones included, marked by the page)."""
    return list(
        db.session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.organisation_id == organisation.user_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def invitation_of(organisation: Organisation, invitation_id) -> Invitation | None:
    """One of this organisation's invitations (never another organisation's)."""
    return db.session.scalar(
        sa.select(Invitation).where(
            Invitation.id == invitation_id, Invitation.organisation_id == organisation.user_id
        )
    )


def _may_invite(actor: User, organisation: Organisation, role: Role) -> None:
    actor_role = role_in(actor, organisation.account)
    if not allows(actor_role, Permission.WRITE_MEMBERS):
        raise MembershipRefused("Only owners and admins invite members.")
    if role == Role.OWNER and actor_role != Role.OWNER:
        raise MembershipRefused("Only an owner may invite an owner.")


def invite(actor: User, organisation: Organisation, email: str, role: Role) -> Sent:
    """Invite `email` in `role`, or send a pending invitation to that address again."""
    email = address(email)
    _may_invite(actor, organisation, role)
    already = db.session.scalar(
        sa.select(Membership.person_id)
        .join(User, User.id == Membership.person_id)
        .where(
            Membership.organisation_id == organisation.user_id,
            sa.func.lower(User.email) == email,
        )
    )
    if already is not None:  # the inviter sees the members list: this tells them nothing new
        raise MembershipRefused(f"{email} is already a member.")
    pending = pending_of(organisation)
    for invitation in pending:
        if invitation.email == email:
            invitation.role = role
            return _send(actor, organisation, invitation, "organisation.invite_resend")
    if len(pending) >= PENDING_MAX:
        raise MembershipRefused(
            f"{PENDING_MAX} invitations are waiting: revoke some before sending more."
        )
    invitation = Invitation(
        organisation_id=organisation.user_id, email=email, role=role, invited_by_id=actor.id
    )
    db.session.add(invitation)
    return _send(actor, organisation, invitation, "organisation.invite")


def resend(actor: User, organisation: Organisation, invitation: Invitation) -> Sent:
    """A new link (the old one stops working) and a new expiry, mailed again."""
    _may_invite(actor, organisation, Role(invitation.role))
    if invitation.accepted_at or invitation.revoked_at:
        raise MembershipRefused("That invitation was already accepted or revoked.")
    return _send(actor, organisation, invitation, "organisation.invite_resend")


def _send(actor: User, organisation: Organisation, invitation: Invitation, action: str) -> Sent:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hashed(token)
    invitation.created_at = utcnow()
    invitation.expires_at = invitation.created_at + lifetime()
    invitation.invited_by_id = actor.id
    record_event(
        action,
        actor=actor,
        subject=organisation.account,
        details={"email": invitation.email, "role": invitation.role},
        commit=False,
    )
    db.session.commit()
    link = public_url_for("organisations.invitation", token=token)
    days = current_app.config["INVITATION_DAYS"]
    send_email_or_log(
        invitation.email,
        f"Join {organisation.name} on Toolbox",
        f"{actor.email} invited you to join {organisation.name} on Toolbox as "
        f"{invitation.role}.\n\nAccept the invitation (the link works once, for {days} days, and "
        f"only for {invitation.email}):\n{link}\n\nLog in or sign up with {invitation.email} to "
        "accept. If you did not expect this, ignore this message.\n",
    )
    return Sent(invitation, link)


def revoke(actor: User, organisation: Organisation, invitation: Invitation) -> None:
    """The link stops working at once (if it was not accepted first)."""
    _may_invite(actor, organisation, Role(invitation.role))
    revoked = db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if revoked.rowcount != 1:
        db.session.rollback()
        raise MembershipRefused("That invitation was already accepted or revoked.")
    record_event(
        "organisation.invite_revoke",
        actor=actor,
        subject=organisation.account,
        details={"email": invitation.email, "role": invitation.role},
        commit=False,
    )
    db.session.commit()


def invitation_for(token: str) -> Invitation:
    """The invitation a link names, or InvitationProblem saying why it cannot be used."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise InvitationProblem("invalid")
    invitation = db.session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == hashed(token))
    )
    if invitation is None:
        raise InvitationProblem("invalid")
    if invitation.revoked_at is not None:
        raise InvitationProblem("revoked")
    if invitation.accepted_at is not None:
        raise InvitationProblem("used")
    if invitation.expires_at <= utcnow():
        raise InvitationProblem("expired")
    return invitation


def accept(person: User, token: str) -> Organisation:
    """Join the organisation the link names: only for the invited address, once."""
    invitation = invitation_for(token)
    if person.email.lower() != invitation.email:
        raise InvitationProblem("other_address")
    now = utcnow()
    claimed = db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.token_hash == hashed(token),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now, accepted_by_id=person.id)
    )
    if claimed.rowcount != 1:  # opened twice at once, or revoked or resent meanwhile
        db.session.rollback()
        raise InvitationProblem("used")
    organisation = db.session.get(Organisation, invitation.organisation_id)
    if role_in(person, organisation.account) is None:
        db.session.add(
            Membership(
                organisation_id=organisation.user_id,
                person_id=person.id,
                role=invitation.role,
                invited_by_id=invitation.invited_by_id,
            )
        )
    record_event(
        "organisation.join",
        actor=person,
        subject=organisation.account,
        details={"role": invitation.role, "invitation_id": str(invitation.id)},
        commit=False,
    )
    db.session.commit()
    return organisation
