"""The organisation pages through real requests: create, members, invite, roles, remove, leave,
invitations; every route scoped to the organisation's members (404 for anyone else, 403 for a
member whose role may not)."""

import re

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, AuditEvent, Invitation, Organisation, User
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation, role_in
from tests.conftest import PASSWORD, AuthActions, csrf_token
from tests.organisations.conftest import join


@pytest.fixture
def app_overrides(smtp_server):
    _, port = smtp_server
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "PUBLIC_URL": "https://dash.example",
        "WTF_CSRF_ENABLED": True,  # as served: every form and button carries its token
    }


def as_person(app, person):
    client = app.test_client()
    AuthActions(client).login(person)
    return client


def post(client, path: str, page: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def members_path(organisation) -> str:
    return f"/o/{organisation.slug}/members/"


def test_creating_an_organisation_makes_you_its_owner(app, logged_in):
    client = app.test_client()
    AuthActions(client).login(logged_in)
    page = client.get("/organisations/new")
    assert page.status_code == 200
    answer = post(client, "/organisations/new", "/organisations/new", name="Acme Tools")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/o/acme-tools/members/")
    organisation = db.session.scalar(sa.select(Organisation))
    assert role_in(logged_in, organisation.account) is Role.OWNER
    members = client.get("/o/acme-tools/members/").get_data(as_text=True)
    assert 'data-testid="my-role">owner<' in members
    account = client.get("/account/").get_data(as_text=True)
    assert "/o/acme-tools/members/" in account


@pytest.mark.parametrize("name", ["", "x" * 81, "bell\x07"])
def test_a_bad_name_is_a_form_error(app, logged_in, name):
    client = app.test_client()
    AuthActions(client).login(logged_in)
    answer = post(client, "/organisations/new", "/organisations/new", name=name)
    assert answer.status_code == 422
    assert "invalid-feedback" in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_strangers_and_unknown_slugs_get_404(app, acme, make_user):
    client = as_person(app, make_user())
    assert client.get(members_path(acme)).status_code == 404
    assert client.get("/o/no-such-org/members/").status_code == 404
    for path in (
        f"/o/{acme.slug}/members/invite",
        f"/o/{acme.slug}/leave",
        f"/o/{acme.slug}/members/{acme.created_by_id}/remove",
    ):
        assert post(client, path, "/account/", email="x@example.com").status_code == 404
    assert role_in(db.session.get(type(acme.account), acme.created_by_id), acme.account)


def test_an_admin_invites_and_the_mail_goes_out(app, acme, make_user, inbox):
    admin = make_user()
    join(acme, admin, Role.ADMIN)
    client = as_person(app, admin)
    answer = post(
        client,
        f"/o/{acme.slug}/members/invite",
        members_path(acme),
        email="new@example.com",
        role="viewer",
    )
    assert answer.status_code == 303
    assert "/invitations/" in inbox.last_to("new@example.com").get_content()
    page = client.get(members_path(acme)).get_data(as_text=True)
    assert "new@example.com" in page and 'data-testid="invitations"' in page


def test_a_bad_invitation_is_a_form_error(app, acme, owner):
    client = as_person(app, owner)
    for data in ({"email": "not an address", "role": "viewer"}, {"email": "a@b.co", "role": "x"}):
        answer = post(client, f"/o/{acme.slug}/members/invite", members_path(acme), **data)
        assert answer.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.BILLING])
def test_members_without_the_right_get_403_and_change_nothing(app, acme, owner, make_user, role):
    member, other = make_user(), make_user()
    join(acme, member, role)
    join(acme, other, Role.VIEWER)
    client = as_person(app, member)
    page = client.get(members_path(acme))
    assert page.status_code == 200
    assert "Send invitation" not in page.get_data(as_text=True)
    for path, data in (
        (f"/o/{acme.slug}/members/invite", {"email": "x@example.com", "role": "viewer"}),
        (f"/o/{acme.slug}/members/{other.id}/role", {"role": "admin"}),
        (f"/o/{acme.slug}/members/{other.id}/remove", {}),
    ):
        answer = post(client, path, members_path(acme), **data)
        assert answer.status_code == 403
        assert f"As {role.value} you cannot" in answer.get_data(as_text=True)
    assert role_in(other, acme.account) is Role.VIEWER
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0


def test_roles_change_and_a_removed_member_loses_access_at_once(app, acme, owner, make_user):
    member = make_user()
    join(acme, member, Role.VIEWER)
    theirs = as_person(app, member)
    assert theirs.get(members_path(acme)).status_code == 200
    mine = as_person(app, owner)
    answer = post(
        mine, f"/o/{acme.slug}/members/{member.id}/role", members_path(acme), role="admin"
    )
    assert answer.status_code == 303
    assert role_in(member, acme.account) is Role.ADMIN
    post(mine, f"/o/{acme.slug}/members/{member.id}/remove", members_path(acme))
    assert role_in(member, acme.account) is None
    assert theirs.get(members_path(acme)).status_code == 404  # the same session, at once


def test_the_last_owner_cannot_leave(app, acme, owner):
    client = as_person(app, owner)
    answer = post(client, f"/o/{acme.slug}/leave", members_path(acme))
    assert answer.status_code == 303
    assert "make another member an owner" in client.get(members_path(acme)).get_data(as_text=True)
    assert role_in(owner, acme.account) is Role.OWNER


def test_a_member_leaves(app, acme, make_user):
    member = make_user()
    join(acme, member, Role.DEVELOPER)
    client = as_person(app, member)
    answer = post(client, f"/o/{acme.slug}/leave", members_path(acme))
    assert answer.headers["Location"].endswith("/account/")
    assert role_in(member, acme.account) is None


def test_invitations_are_resent_and_withdrawn_from_the_page(app, acme, owner, inbox):
    client = as_person(app, owner)
    post(
        client,
        f"/o/{acme.slug}/members/invite",
        members_path(acme),
        email="a@example.com",
        role="developer",
    )
    invitation = db.session.scalar(sa.select(Invitation))
    base = f"/o/{acme.slug}/invitations/{invitation.id}"
    assert post(client, f"{base}/resend", members_path(acme)).status_code == 303
    assert len(inbox.to("a@example.com")) == 2
    assert post(client, f"{base}/revoke", members_path(acme)).status_code == 303
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).revoked_at is not None
    assert post(client, f"{base}/explode", members_path(acme)).status_code == 404


def test_another_organisations_invitation_is_404(app, acme, owner, make_user, inbox):
    other_owner = make_user()
    other = create_organisation(other_owner, "Other")
    client = as_person(app, other_owner)
    post(
        client,
        f"/o/{other.slug}/members/invite",
        members_path(other),
        email="b@example.com",
        role="viewer",
    )
    invitation = db.session.scalar(sa.select(Invitation))
    mine = as_person(app, owner)
    for action in ("resend", "revoke"):
        path = f"/o/{acme.slug}/invitations/{invitation.id}/{action}"
        assert post(mine, path, members_path(acme)).status_code == 404
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).revoked_at is None


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_malformed_and_unknown_ids_are_404_not_500(app, acme, owner, bad):
    client = as_person(app, owner)
    for path in (
        f"/o/{acme.slug}/members/{bad}/remove",
        f"/o/{acme.slug}/invitations/{bad}/revoke",
    ):
        answer = post(client, path, members_path(acme))
        assert answer.status_code in (303, 404), path
        assert answer.status_code != 500


def test_an_action_without_its_csrf_token_is_refused(app, acme, owner, make_user):
    member = make_user()
    join(acme, member, Role.VIEWER)
    client = as_person(app, owner)
    answer = client.post(f"/o/{acme.slug}/members/{member.id}/remove")
    assert answer.status_code == 400
    assert role_in(member, acme.account) is Role.VIEWER


def test_an_accepted_invitation_opens_the_members_page(app, acme, owner, make_user, inbox):
    invitee = make_user("dev@example.com")
    client = as_person(app, owner)
    post(
        client,
        f"/o/{acme.slug}/members/invite",
        members_path(acme),
        email=invitee.email,
        role="developer",
    )
    link = re.search(
        r"https://dash\.example(/invitations/\S+)", inbox.last_to(invitee.email).get_content()
    ).group(1)
    theirs = as_person(app, invitee)
    answer = post(theirs, link, "/organisations/new")  # the token is the session's
    assert answer.headers["Location"].endswith(members_path(acme))
    assert 'data-testid="my-role">developer<' in theirs.get(members_path(acme)).get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "app_overrides",
    [{"WTF_CSRF_ENABLED": True, "INVITATION_SEND_RATE_LIMIT": "2/hour", "MAIL_SERVER": ""}],
)
def test_invitations_and_resends_share_a_limit_per_person(app, acme, owner):
    client = as_person(app, owner)
    sent = [
        post(
            client,
            f"/o/{acme.slug}/members/invite",
            members_path(acme),
            email=f"a{n}@example.com",
            role="viewer",
        ).status_code
        for n in range(2)
    ]
    assert sent == [303, 303]
    invitation = db.session.scalar(sa.select(Invitation).order_by(Invitation.email))
    base = f"/o/{acme.slug}/invitations/{invitation.id}"
    refused = post(client, f"{base}/resend", members_path(acme))
    assert refused.status_code == 429
    assert "You have sent many invitations" in refused.get_data(as_text=True)
    # Withdrawing is not a send: it still works.
    assert post(client, f"{base}/revoke", members_path(acme)).status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 2


@pytest.mark.parametrize(
    "app_overrides", [{"WTF_CSRF_ENABLED": True, "ORGANISATION_CREATE_RATE_LIMIT": "1/day"}]
)
def test_creating_organisations_is_limited_per_person(app, logged_in):
    client = as_person(app, logged_in)
    new = "/organisations/new"
    assert post(client, new, new, name="One").status_code == 303
    refused = post(client, new, new, name="Two")
    assert refused.status_code == 429
    assert "You have created many organisations today" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 1


def test_an_owner_transfers_ownership_and_becomes_an_admin(app, acme, owner, make_user):
    member = make_user("next@example.com")
    join(acme, member, Role.DEVELOPER)
    client = as_person(app, owner)
    page = client.get(members_path(acme)).get_data(as_text=True)
    assert 'aria-label="Transfer ownership to next@example.com"' in page
    answer = post(client, f"/o/{acme.slug}/members/{member.id}/transfer", members_path(acme))
    assert answer.status_code == 303
    assert (role_in(member, acme.account), role_in(owner, acme.account)) == (Role.OWNER, Role.ADMIN)
    # An admin may not transfer it back.
    refused = post(client, f"/o/{acme.slug}/members/{member.id}/transfer", members_path(acme))
    assert refused.status_code == 403
    assert role_in(member, acme.account) is Role.OWNER


def test_an_owner_deletes_the_organisation_after_typing_its_name(app, acme, owner, make_user):
    key, secret = create_key(acme.account, "Acme production")
    key_id, acme_id, members = key.id, acme.user_id, members_path(acme)
    admin = make_user("admin@example.com")
    join(acme, admin, Role.ADMIN)
    path = f"/o/{acme.slug}/delete"
    refused = post(as_person(app, admin), path, members, confirm_name="Acme")
    assert refused.status_code == 403
    client = as_person(app, owner)
    wrong = post(client, path, members, confirm_name="acme")
    assert wrong.status_code == 303
    assert db.session.get(Organisation, acme_id) is not None
    answer = post(client, path, members, confirm_name="Acme")
    assert answer.status_code == 303 and answer.headers["Location"] == "/account/"
    db.session.expunge_all()
    assert db.session.get(User, acme_id) is None
    assert db.session.get(ApiKey, key_id) is None
    refused_call = client.post(
        "/api/v1/tools/echo", json={"message": "hi"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused_call.status_code == 401
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.delete")
    )
    assert event.actor_id == owner.id and event.details["slug"] == "acme"
    assert 'data-testid="current-account">Personal<' in client.get("/keys/").get_data(as_text=True)


def test_the_only_owner_of_an_organisation_cannot_delete_their_account(app, acme, owner):
    client = as_person(app, owner)
    answer = post(
        client,
        "/account/delete",
        "/account/",
        confirm_email=owner.email,
        password=PASSWORD,
    )
    assert answer.status_code == 422
    assert "You are the only owner of Acme" in answer.get_data(as_text=True)
    assert db.session.get(User, owner.id) is not None
