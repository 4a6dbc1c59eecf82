"""Invitations by email: sent through the real SMTP server, single-use, expiring, revocable,
for the invited address only, and answering the same whether that address has an account."""

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import AuditEvent, Invitation, Membership, Organisation, User, utcnow
from dashboard.organisations.invitations import (
    InvitationProblem,
    accept,
    invitation_for,
    invite,
    pending_of,
    resend,
    revoke,
)
from dashboard.organisations.roles import Role
from dashboard.organisations.service import MembershipRefused, role_in
from tests.conftest import AuthActions, csrf_token, make_app

PUBLIC_URL = "https://dash.example.com"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/invitations/[A-Za-z0-9_-]+")


@pytest.fixture
def app_overrides(smtp_server):
    _, port = smtp_server
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "PUBLIC_URL": PUBLIC_URL}


def mailed_link(inbox, address: str) -> str:
    links = LINK.findall(inbox.last_to(address).get_content())
    assert len(links) == 1
    return links[0]


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_an_invitation_is_mailed_and_joins_the_invitee_once(acme, owner, inbox, make_user):
    invitee = make_user("dev@example.com")
    sent = invite(owner, acme, " Dev@Example.com ", Role.DEVELOPER)
    link = mailed_link(inbox, "dev@example.com")
    assert link == sent.link
    message = inbox.last_to("dev@example.com")
    assert message["Subject"] == "Join Acme on Toolbox"
    assert "owner@example.com invited you" in message.get_content()
    stored = db.session.scalar(sa.select(Invitation))
    assert token_of(link) not in (stored.token_hash, str(stored.id))  # only a hash is kept
    joined = accept(invitee, token_of(link))
    assert joined == acme
    assert role_in(invitee, acme.account) is Role.DEVELOPER
    with pytest.raises(InvitationProblem) as again:
        accept(invitee, token_of(link))
    assert again.value.reason == "used"
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.subject_id == acme.user_id)
    ).all()
    assert {"organisation.invite", "organisation.join"} <= set(actions)


def test_the_invitation_reads_the_same_for_a_known_and_an_unknown_address(
    acme, owner, inbox, make_user
):
    make_user("known@example.com")
    invite(owner, acme, "known@example.com", Role.VIEWER)
    invite(owner, acme, "unknown@example.com", Role.VIEWER)
    texts = [
        LINK.sub("LINK", inbox.last_to(address).get_content()).replace(address, "ADDRESS")
        for address in ("known@example.com", "unknown@example.com")
    ]
    assert texts[0] == texts[1]


def test_only_the_invited_address_may_accept(acme, owner, inbox, make_user):
    invite(owner, acme, "dev@example.com", Role.DEVELOPER)
    token = token_of(mailed_link(inbox, "dev@example.com"))
    someone = make_user("someone@example.com")
    with pytest.raises(InvitationProblem) as refused:
        accept(someone, token)
    assert refused.value.reason == "other_address"
    assert role_in(someone, acme.account) is None
    assert invitation_for(token).accepted_at is None  # still usable by the invitee


def test_an_expired_invitation_joins_no_one(acme, owner, inbox, make_user):
    invitee = make_user("dev@example.com")
    sent = invite(owner, acme, "dev@example.com", Role.DEVELOPER)
    sent.invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(InvitationProblem) as refused:
        accept(invitee, token_of(sent.link))
    assert refused.value.reason == "expired"
    assert role_in(invitee, acme.account) is None


def test_a_revoked_invitation_joins_no_one(acme, owner, inbox, make_user):
    invitee = make_user("dev@example.com")
    sent = invite(owner, acme, "dev@example.com", Role.DEVELOPER)
    revoke(owner, acme, sent.invitation)
    with pytest.raises(InvitationProblem) as refused:
        accept(invitee, token_of(sent.link))
    assert refused.value.reason == "revoked"
    with pytest.raises(MembershipRefused):
        revoke(owner, acme, sent.invitation)
    assert pending_of(acme) == []


def test_resending_makes_the_old_link_useless(acme, owner, inbox, make_user):
    invitee = make_user("dev@example.com")
    first = invite(owner, acme, "dev@example.com", Role.VIEWER)
    second = resend(owner, acme, first.invitation)
    again = invite(owner, acme, "DEV@example.com", Role.DEVELOPER)  # the same pending one
    assert len(inbox.to("dev@example.com")) == 3
    assert len(pending_of(acme)) == 1
    for old in (first, second):
        with pytest.raises(InvitationProblem):
            accept(invitee, token_of(old.link))
    accept(invitee, token_of(again.link))
    assert role_in(invitee, acme.account) is Role.DEVELOPER


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "y" * 500, "\x00" * 30])
def test_a_broken_link_is_invalid(app, token):
    with pytest.raises(InvitationProblem) as problem:
        invitation_for(token)
    assert problem.value.reason == "invalid"


def test_who_may_invite(acme, owner, make_user):
    admin, developer = make_user(), make_user()
    for person, role in ((admin, Role.ADMIN), (developer, Role.DEVELOPER)):
        db.session.add(Membership(organisation_id=acme.user_id, person_id=person.id, role=role))
    db.session.commit()
    invite(admin, acme, "new@example.com", Role.VIEWER)
    with pytest.raises(MembershipRefused, match="owner"):
        invite(admin, acme, "boss@example.com", Role.OWNER)
    with pytest.raises(MembershipRefused):
        invite(developer, acme, "friend@example.com", Role.VIEWER)
    with pytest.raises(MembershipRefused):
        invite(make_user(), acme, "stranger@example.com", Role.VIEWER)
    with pytest.raises(MembershipRefused, match="already a member"):
        invite(owner, acme, admin.email.upper(), Role.VIEWER)
    with pytest.raises(MembershipRefused, match="email address"):
        invite(owner, acme, "not an address", Role.VIEWER)
    assert [invitation.email for invitation in pending_of(acme)] == ["new@example.com"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_link_opened_twice_at_once_joins_once(app, migrated_urls, acme, owner, inbox, make_user):
    invitee = make_user("dev@example.com")
    token = token_of(invite(owner, acme, "dev@example.com", Role.DEVELOPER).link)
    invitee_id = invitee.id  # read here: the test's session is not for the threads
    outcomes: list[str] = []
    barrier = threading.Barrier(4, timeout=30)

    apps = [make_app(migrated_urls("postgresql")) for _ in range(4)]  # not in the threads

    def open_link(other):
        with other.app_context():
            person = db.session.get(User, invitee_id)
            barrier.wait()
            try:
                accept(person, token)
                outcomes.append("joined")
            except InvitationProblem as problem:
                outcomes.append(problem.reason)
            finally:
                db.session.remove()
                db.engine.dispose()

    threads = [threading.Thread(target=open_link, args=(other,)) for other in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["joined", "used", "used", "used"]
    db.session.expire_all()
    memberships = db.session.scalars(
        sa.select(Membership).where(Membership.person_id == invitee_id)
    ).all()
    assert len(memberships) == 1


# The page the link opens.


def test_the_page_asks_a_visitor_to_log_in_as_the_invitee(client, acme, owner, inbox):
    invite(owner, acme, "dev@example.com", Role.DEVELOPER)
    path = mailed_link(inbox, "dev@example.com").removeprefix(PUBLIC_URL)
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Join Acme" in text and "developer" in text
    assert 'data-testid="login-to-accept"' in text
    assert 'data-testid="accept-invitation"' not in text


def test_the_invitee_accepts_on_the_page(client, acme, owner, inbox, make_user):
    invitee = make_user("dev@example.com")
    invite(owner, acme, "dev@example.com", Role.VIEWER)
    path = mailed_link(inbox, "dev@example.com").removeprefix(PUBLIC_URL)
    AuthActions(client).login(invitee)
    page = client.get(path)
    assert 'data-testid="accept-invitation"' in page.get_data(as_text=True)
    answer = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert answer.status_code == 303
    assert role_in(invitee, acme.account) is Role.VIEWER
    used = client.get(path)
    assert used.status_code == 410
    assert "already used" in used.get_data(as_text=True)


def test_someone_else_logged_in_is_told_and_cannot_accept(client, acme, owner, inbox, make_user):
    someone = make_user("someone@example.com")
    invite(owner, acme, "dev@example.com", Role.ADMIN)
    path = mailed_link(inbox, "dev@example.com").removeprefix(PUBLIC_URL)
    AuthActions(client).login(someone)
    page = client.get(path).get_data(as_text=True)
    assert 'data-testid="other-address"' in page
    answer = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert answer.status_code == 404
    assert "another address" in answer.get_data(as_text=True)
    assert role_in(someone, acme.account) is None


def test_a_visitor_posting_is_sent_to_log_in(client, acme, owner, inbox):
    invite(owner, acme, "dev@example.com", Role.ADMIN)
    path = mailed_link(inbox, "dev@example.com").removeprefix(PUBLIC_URL)
    answer = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert answer.status_code == 303
    assert "/login" in answer.headers["Location"]
    assert db.session.scalar(sa.select(Invitation.accepted_at)) is None


def test_a_forged_link_gets_the_link_problem_page(client, app):
    answer = client.get("/invitations/" + "A" * 43)
    assert answer.status_code == 404
    assert 'data-testid="link-problem"' in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0
