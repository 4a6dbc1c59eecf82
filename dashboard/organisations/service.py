"""Who belongs to which account, in which role, and the rules that keep an organisation owned.

An account is a `users` row that owns keys, logs, usage and a plan. A person's own account is
theirs alone (they hold OWNER on it, with no membership row); an organisation is an account
with an `organisations` row, which people join through `memberships`.

The rules, each enforced in the statement that changes the row:
- only owners make, unmake or remove owners, and at least one owner always remains;
- admins (members:write) invite, change roles below owner and remove members;
- anyone may leave, except the last owner (who transfers ownership or deletes the
  organisation first).
"""

import re
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.models import AuditEvent, Membership, Organisation, User, utcnow
from dashboard.organisations.roles import Permission, Role, allows
from dashboard.revocation import account_changed

NAME_MAX = 80
SLUG_MAX = 40
# Slugs that would read as a page of ours in /o/<slug>/ or confuse support.
RESERVED_SLUGS = frozenset({"new", "admin", "api", "support", "settings", "personal", "static"})
# The `users.email` of an organisation's row: unique, and under a domain no mail reaches (RFC
# 2606), so no one can sign in as the organisation or reset its password.
ACCOUNT_EMAIL_DOMAIN = "organisations.invalid"


class MembershipRefused(Exception):
    """A change the rules do not allow; the message says why, in words for the page."""


@dataclass(frozen=True)
class AccountChoice:
    """One account a person may act on: their own, or an organisation they belong to."""

    account: User
    organisation: Organisation | None
    role: Role

    @property
    def name(self) -> str:
        return self.organisation.name if self.organisation else "Personal"


def organisation_of(account: User) -> Organisation | None:
    """The organisation this account is, or None for a person's own account."""
    return db.session.get(Organisation, account.id)


def organisation_by_slug(slug: str) -> Organisation | None:
    return db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))


def role_in(person: User, account: User) -> Role | None:
    """The role `person` holds on `account`: OWNER of their own, their membership's role in an
    organisation, None when they may not open it."""
    if person.id == account.id:
        return Role.OWNER
    role = db.session.scalar(
        sa.select(Membership.role).where(
            Membership.organisation_id == account.id, Membership.person_id == person.id
        )
    )
    return Role(role) if role else None


def accounts_of(person: User) -> list[AccountChoice]:
    """The accounts `person` may act on: their own first, then their organisations by name."""
    rows = db.session.execute(
        sa.select(User, Organisation, Membership.role)
        .join(Organisation, Organisation.user_id == User.id)
        .join(Membership, Membership.organisation_id == User.id)
        .where(Membership.person_id == person.id)
        .order_by(sa.func.lower(Organisation.name), Organisation.slug)
    ).all()
    own = AccountChoice(person, None, Role.OWNER)
    return [own, *(AccountChoice(account, org, Role(role)) for account, org, role in rows)]


def members_of(organisation: Organisation) -> list[tuple[Membership, User]]:
    """The organisation's members with their people, owners first, then by address."""
    order = sa.case({role.value: rank for rank, role in enumerate(Role)}, value=Membership.role)
    return [
        (membership, person)
        for membership, person in db.session.execute(
            sa.select(Membership, User)
            .join(User, User.id == Membership.person_id)
            .where(Membership.organisation_id == organisation.user_id)
            .order_by(order, User.email)
        ).all()
    ]


def slug_of(name: str) -> str:
    """A URL slug from a name: ASCII letters and digits joined by single hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:SLUG_MAX].strip("-")


def clean_name(name: str) -> str:
    """The name as kept, or MembershipRefused saying what is wrong with it."""
    name = " ".join(name.split())
    if not name:
        raise MembershipRefused("Give the organisation a name.")
    if len(name) > NAME_MAX:
        raise MembershipRefused(f"Keep the name to {NAME_MAX} characters.")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise MembershipRefused("The name may not hold control characters.")
    return name


def free_slug(name: str) -> str:
    """The name's slug, with -2, -3, … when it is taken or reserved."""
    base = slug_of(name) or "organisation"
    if base in RESERVED_SLUGS:
        base = f"{base}-org"
    taken = set(
        db.session.scalars(
            sa.select(Organisation.slug).where(
                sa.or_(Organisation.slug == base, Organisation.slug.like(f"{base}-%"))
            )
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def create_organisation(creator: User, name: str, billing_email: str | None = None) -> Organisation:
    """A new organisation on the Free plan, its creator its owner."""
    name = clean_name(name)
    account_id = uuid.uuid4()
    account = User(
        id=account_id,
        email=f"{account_id.hex}@{ACCOUNT_EMAIL_DOMAIN}",
        password_hash=None,
        subscription_plan="free",
        role="user",
        email_verified_at=utcnow(),
    )
    organisation = Organisation(
        user_id=account_id,
        name=name,
        slug=free_slug(name),
        billing_email=(billing_email or creator.email).strip().lower(),
        created_by_id=creator.id,
    )
    db.session.add(account)
    db.session.flush()
    db.session.add(organisation)
    db.session.add(Membership(organisation_id=account_id, person_id=creator.id, role=Role.OWNER))
    record_event(
        "organisation.create",
        actor=creator,
        subject=account,
        details={"name": name, "slug": organisation.slug},
        commit=False,
    )
    db.session.commit()
    return organisation


@contextmanager
def members_changing(organisation: Organisation) -> Iterator[None]:
    """Serialise changes to the organisation's members (a row lock on PostgreSQL; SQLite has
    one writer), so two owners leaving at once cannot both see the other one still there; a
    refusal rolls back and lets the lock go."""
    db.session.execute(
        sa.select(Organisation.user_id)
        .where(Organisation.user_id == organisation.user_id)
        .with_for_update()
    )
    try:
        yield
    except MembershipRefused:
        db.session.rollback()
        raise


def _membership(organisation: Organisation, person_id: uuid.UUID) -> Membership:
    membership = db.session.get(Membership, (organisation.user_id, person_id))
    if membership is None:
        raise MembershipRefused("That person is not a member of this organisation.")
    return membership


def _email_of(person_id: uuid.UUID) -> str | None:
    return db.session.scalar(sa.select(User.email).where(User.id == person_id))


def _owners(organisation: Organisation) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.organisation_id == organisation.user_id,
            Membership.role == Role.OWNER,
        )
    )


def _may_manage(actor: User, organisation: Organisation, target: Membership) -> None:
    """Raise unless `actor` may change or remove `target`'s membership."""
    actor_role = role_in(actor, organisation.account)
    if not allows(actor_role, Permission.WRITE_MEMBERS):
        raise MembershipRefused("Only owners and admins manage members.")
    if target.role == Role.OWNER and actor_role != Role.OWNER:
        raise MembershipRefused("Only an owner may change or remove another owner.")


def change_role(actor: User, organisation: Organisation, person_id: uuid.UUID, role: Role) -> None:
    """Give a member another role (owners alone make or unmake owners)."""
    with members_changing(organisation):
        membership = _membership(organisation, person_id)
        _may_manage(actor, organisation, membership)
        if role == Role.OWNER and role_in(actor, organisation.account) != Role.OWNER:
            raise MembershipRefused("Only an owner may make someone an owner.")
        if membership.role == role:
            db.session.rollback()
            return
        if membership.role == Role.OWNER and _owners(organisation) == 1:
            raise MembershipRefused("An organisation keeps at least one owner: make another first.")
        before = membership.role
        membership.role = role
        record_event(
            "organisation.role_change",
            actor=actor,
            subject=organisation.account,
            details={
                "person_id": str(person_id),
                "email": _email_of(person_id),
                "from": before,
                "to": role.value,
                "role": role.value,
            },
            commit=False,
        )
        db.session.commit()


def remove_member(actor: User, organisation: Organisation, person_id: uuid.UUID) -> None:
    """Take a member out (their next request no longer opens the organisation)."""
    with members_changing(organisation):
        membership = _membership(organisation, person_id)
        leaving = actor.id == person_id
        if not leaving:
            _may_manage(actor, organisation, membership)
        if membership.role == Role.OWNER and _owners(organisation) == 1:
            raise MembershipRefused(
                "The last owner cannot leave: make another member an owner first."
            )
        db.session.delete(membership)
        record_event(
            "organisation.leave" if leaving else "organisation.remove_member",
            actor=actor,
            subject=organisation.account,
            details={
                "person_id": str(person_id),
                "email": _email_of(person_id),
                "role": membership.role,
            },
            commit=False,
        )
        db.session.commit()


def leave(person: User, organisation: Organisation) -> None:
    remove_member(person, organisation, person.id)


def transfer_ownership(actor: User, organisation: Organisation, person_id: uuid.UUID) -> None:
    """Make a member an owner and the actor an admin, in one commit."""
    with members_changing(organisation):
        if role_in(actor, organisation.account) != Role.OWNER:
            raise MembershipRefused("Only an owner may transfer ownership.")
        if person_id == actor.id:
            raise MembershipRefused("Choose another member to become the owner.")
        target = _membership(organisation, person_id)
        target.role = Role.OWNER
        _membership(organisation, actor.id).role = Role.ADMIN
        record_event(
            "organisation.transfer",
            actor=actor,
            subject=organisation.account,
            details={"to_person_id": str(person_id), "email": _email_of(person_id)},
            commit=False,
        )
        db.session.commit()


def update_settings(
    actor: User, organisation: Organisation, *, billing_email: str, require_two_factor: bool
) -> None:
    """Change the billing contact and the two-factor rule, with an audit row naming the change."""
    before = {
        "billing_email": organisation.billing_email,
        "require_two_factor": organisation.require_two_factor,
    }
    organisation.billing_email = billing_email.strip().lower()
    organisation.require_two_factor = bool(require_two_factor)
    after = {
        "billing_email": organisation.billing_email,
        "require_two_factor": organisation.require_two_factor,
    }
    changed = {name: after[name] for name in after if after[name] != before[name]}
    if changed:
        record_event(
            "organisation.settings",
            actor=actor,
            subject=organisation.account,
            details=changed,
            commit=False,
        )
    db.session.commit()


def contact_addresses(account_id: uuid.UUID) -> list[str]:
    """Where the account's alerts and notices go: a person's own address; an organisation's
    owners and admins."""
    addresses = db.session.scalars(
        sa.select(User.email)
        .join(Membership, Membership.person_id == User.id)
        .where(
            Membership.organisation_id == account_id,
            Membership.role.in_([Role.OWNER.value, Role.ADMIN.value]),
        )
        .order_by(User.email)
    ).all()
    if addresses:
        return list(addresses)
    own = db.session.scalar(sa.select(User.email).where(User.id == account_id))
    return [own] if own and not own.endswith("@" + ACCOUNT_EMAIL_DOMAIN) else []


def activity_of(organisation: Organisation, limit: int = 30) -> list[AuditEvent]:
    """The organisation's recent events (members, invitations, settings, keys), newest first:
    what its members read on the members page."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.subject_id == organisation.user_id,
                # Support's visits show as their start and end, not each page they read.
                AuditEvent.action.not_in(("impersonation.read", "impersonation.action")),
            )
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def owned_alone(person: User) -> list[Organisation]:
    """The organisations whose only owner is `person` (they hand them over or delete them
    before their own account can go)."""
    sole = (
        sa.select(Membership.organisation_id)
        .where(Membership.role == Role.OWNER.value)
        .group_by(Membership.organisation_id)
        .having(sa.func.count() == 1)
    )
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .join(Membership, Membership.organisation_id == Organisation.user_id)
            .where(
                Membership.person_id == person.id,
                Membership.role == Role.OWNER.value,
                Organisation.user_id.in_(sole),
            )
            .order_by(Organisation.name)
        )
    )


def delete_organisation(actor: User, organisation: Organisation, confirm_name: str) -> None:
    """Delete the organisation and everything it owns (keys, logs, usage, members: ON DELETE
    CASCADE); every worker refuses its keys from the next call on."""
    if role_in(actor, organisation.account) != Role.OWNER:
        raise MembershipRefused("Only an owner may delete the organisation.")
    if " ".join(confirm_name.split()) != organisation.name:
        raise MembershipRefused(f"Type the organisation's name, {organisation.name}, to confirm.")
    account_id = organisation.user_id
    record_event(
        "organisation.delete",
        actor=actor,
        subject=None,
        details={
            "organisation_id": str(account_id),
            "name": organisation.name,
            "slug": organisation.slug,
        },
        commit=False,
    )
    db.session.execute(sa.delete(User).where(User.id == account_id))
    db.session.commit()
    account_changed(account_id)
