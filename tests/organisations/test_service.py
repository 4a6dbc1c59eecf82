"""Organisations' rules: who may open an account, roles, and an owner always remaining."""

import threading

import pytest
import sqlalchemy as sa

from dashboard.auth.service import authenticate
from dashboard.extensions import db
from dashboard.models import AuditEvent, Membership, Organisation, User
from dashboard.organisations.roles import PERMISSIONS, Permission, Role, allows, parse_role
from dashboard.organisations.service import (
    MembershipRefused,
    accounts_of,
    change_role,
    create_organisation,
    leave,
    members_of,
    organisation_of,
    remove_member,
    role_in,
    transfer_ownership,
)
from tests.conftest import PASSWORD, make_app
from tests.organisations.conftest import join


@pytest.fixture
def acme(owner):  # a name with spaces to tidy
    return create_organisation(owner, "  Acme   Tools ")


def test_the_creator_owns_a_new_organisation_on_the_free_plan(acme, owner):
    assert (acme.name, acme.slug, acme.billing_email) == ("Acme Tools", "acme-tools", owner.email)
    account = acme.account
    assert account.subscription_plan == "free"
    assert role_in(owner, account) is Role.OWNER
    assert organisation_of(account) == acme
    assert organisation_of(owner) is None  # a person's own account is no organisation
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.subject_id == account.id))
    assert (event.action, event.actor_id) == ("organisation.create", owner.id)


def test_no_one_can_log_in_as_an_organisation(acme):
    account = acme.account
    assert account.password_hash is None
    assert account.email.endswith("@organisations.invalid")
    assert authenticate(account.email, PASSWORD) is None
    assert authenticate(account.email, "") is None


def test_slugs_are_unique_and_never_a_reserved_word(owner):
    slugs = [create_organisation(owner, name).slug for name in ("Acme", "ACME!", "acme", "Admin")]
    assert slugs == ["acme", "acme-2", "acme-3", "admin-org"]
    assert create_organisation(owner, "Ünïcode Café").slug == "unicode-cafe"
    assert create_organisation(owner, "日本").slug == "organisation"


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "tab\x07bell"])
def test_a_bad_name_is_refused_with_a_reason(owner, name):
    with pytest.raises(MembershipRefused) as refused:
        create_organisation(owner, name)
    assert str(refused.value)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_a_person_sees_their_own_account_first_then_their_organisations(make_user, owner):
    zeta = create_organisation(owner, "Zeta")
    alpha = create_organisation(owner, "alpha")
    stranger = create_organisation(make_user(), "Not mine")
    choices = accounts_of(owner)
    assert [choice.name for choice in choices] == ["Personal", "alpha", "Zeta"]
    assert choices[0].account == owner
    assert {choice.account.id for choice in choices[1:]} == {alpha.user_id, zeta.user_id}
    assert stranger.user_id not in {choice.account.id for choice in choices}


def test_a_stranger_has_no_role(acme, make_user):
    assert role_in(make_user(), acme.account) is None


def test_what_each_role_may_do():
    assert allows(Role.VIEWER, Permission.READ_LOGS)
    assert not allows(Role.VIEWER, Permission.WRITE_KEYS)
    assert allows(Role.DEVELOPER, Permission.WRITE_KEYS)
    assert not allows(Role.DEVELOPER, Permission.WRITE_MEMBERS)
    assert allows(Role.ADMIN, Permission.WRITE_MEMBERS)
    assert not allows(Role.ADMIN, Permission.DELETE_ORGANISATION)
    assert not allows(Role.BILLING, Permission.READ_LOGS)
    assert allows(Role.BILLING, Permission.WRITE_BILLING)
    assert not allows("intruder", Permission.READ_USAGE)
    assert not allows(None, Permission.READ_USAGE)
    # Each role above viewer may do all its lower role may (billing stands apart).
    assert PERMISSIONS[Role.VIEWER] < PERMISSIONS[Role.DEVELOPER] < PERMISSIONS[Role.ADMIN]
    assert PERMISSIONS[Role.ADMIN] < PERMISSIONS[Role.OWNER] == frozenset(Permission)
    assert parse_role("developer") is Role.DEVELOPER
    assert parse_role("root") is None


def test_admins_change_roles_below_owner_and_it_is_audited(acme, owner, make_user):
    admin, member = make_user(), make_user()
    join(acme, admin, Role.ADMIN)
    join(acme, member, Role.VIEWER)
    change_role(admin, acme, member.id, Role.DEVELOPER)
    assert role_in(member, acme.account) is Role.DEVELOPER
    with pytest.raises(MembershipRefused, match="owner"):
        change_role(admin, acme, member.id, Role.OWNER)
    with pytest.raises(MembershipRefused, match="owner"):
        change_role(admin, acme, owner.id, Role.VIEWER)
    assert role_in(owner, acme.account) is Role.OWNER
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.role_change")
    )
    assert event.details == {
        "person_id": str(member.id),
        "email": member.email,
        "from": "viewer",
        "to": "developer",
        "role": "developer",
    }
    assert event.actor_id == admin.id


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER, Role.BILLING])
def test_members_without_the_right_change_nothing(acme, make_user, role):
    actor, member = make_user(), make_user()
    join(acme, actor, role)
    join(acme, member, Role.VIEWER)
    with pytest.raises(MembershipRefused):
        change_role(actor, acme, member.id, Role.ADMIN)
    with pytest.raises(MembershipRefused):
        remove_member(actor, acme, member.id)
    assert role_in(member, acme.account) is Role.VIEWER


def test_a_stranger_changes_nothing(acme, owner, make_user):
    with pytest.raises(MembershipRefused):
        remove_member(make_user(), acme, owner.id)
    assert role_in(owner, acme.account) is Role.OWNER


def test_the_last_owner_can_neither_leave_nor_be_demoted(acme, owner, make_user):
    with pytest.raises(MembershipRefused, match="last owner"):
        leave(owner, acme)
    with pytest.raises(MembershipRefused, match="at least one owner"):
        change_role(owner, acme, owner.id, Role.ADMIN)
    assert role_in(owner, acme.account) is Role.OWNER
    second = make_user()
    join(acme, second, Role.OWNER)
    leave(owner, acme)
    assert role_in(owner, acme.account) is None
    assert [person for _, person in members_of(acme)] == [second]


def test_removing_a_member_ends_their_access(acme, owner, make_user):
    member = make_user()
    join(acme, member, Role.DEVELOPER)
    remove_member(owner, acme, member.id)
    assert role_in(member, acme.account) is None
    assert [choice.name for choice in accounts_of(member)] == ["Personal"]
    with pytest.raises(MembershipRefused, match="not a member"):
        remove_member(owner, acme, member.id)


def test_ownership_moves_in_one_step(acme, owner, make_user):
    member = make_user()
    join(acme, member, Role.DEVELOPER)
    with pytest.raises(MembershipRefused):
        transfer_ownership(member, acme, member.id)
    transfer_ownership(owner, acme, member.id)
    assert (role_in(member, acme.account), role_in(owner, acme.account)) == (
        Role.OWNER,
        Role.ADMIN,
    )


def test_members_are_listed_owners_first(acme, owner, make_user):
    viewer, admin = make_user("a-viewer@example.com"), make_user("z-admin@example.com")
    join(acme, viewer, Role.VIEWER)
    join(acme, admin, Role.ADMIN)
    listed = [(person.email, membership.role) for membership, person in members_of(acme)]
    assert listed == [
        ("owner@example.com", "owner"),
        ("z-admin@example.com", "admin"),
        ("a-viewer@example.com", "viewer"),
    ]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_owners_leaving_at_once_leave_one_behind(app, migrated_urls, acme, owner, make_user):
    """Each leave locks the organisation's row, so the second sees the first one gone."""
    second = make_user()
    join(acme, second, Role.OWNER)
    outcomes: list[str] = []
    barrier = threading.Barrier(2, timeout=30)
    organisation_id = acme.user_id

    def leave_as(person_id, other):
        with other.app_context():
            organisation = db.session.get(Organisation, organisation_id)
            person = db.session.get(User, person_id)
            barrier.wait()
            try:
                leave(person, organisation)
                outcomes.append("left")
            except MembershipRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()
                db.engine.dispose()

    people = (owner.id, second.id)
    apps = [make_app(migrated_urls("postgresql")) for _ in people]  # not in the threads
    threads = [
        threading.Thread(target=leave_as, args=pair) for pair in zip(people, apps, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["left", "refused"]
    db.session.expire_all()
    assert len(members_of(acme)) == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_database_refuses_an_unknown_role(acme, make_user):
    person = make_user()
    db.session.add(Membership(organisation_id=acme.user_id, person_id=person.id, role="root"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
