"""Organisations in the support console: search, their page, viewing as one, their plan; and a
person's organisations on their page."""

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Impersonation, User
from dashboard.organisations.invitations import invite
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from dashboard.support.service import (
    NotAllowed,
    change_role,
    impersonation_refusal,
    search_accounts,
)
from tests.organisations.conftest import join
from tests.support.conftest import REASON, events, start_viewing


def reload(account) -> User:
    db.session.expire_all()
    return db.session.get(User, account.id)


@pytest.fixture
def developer(make_user, acme):
    """A developer in Acme."""
    person = make_user("dev@example.com")
    join(acme, person, Role.DEVELOPER)
    return person


def made_up_address(organisation) -> str:
    return organisation.account.email


# Search


@pytest.mark.parametrize("query", ["ACM", "acme", "Acme"])
def test_search_finds_an_organisation_by_name_or_slug(
    client, auth, support, acme, developer, query
):
    create_organisation(developer, "Globex")
    auth.login(support)
    page = client.get("/support/", query_string={"q": query}).get_data(as_text=True)
    assert page.count('data-testid="organisation-result"') == 1
    assert f'href="/support/users/{acme.user_id}">Acme</a>' in page
    assert "Organisation</span>" in page
    assert "2 members" in page  # the owner and the developer
    assert f'<span class="mono">{acme.slug}</span>' in page
    assert "Globex" not in page
    assert made_up_address(acme) not in page


def test_search_by_slug_part(client, auth, support, owner):
    organisation = create_organisation(owner, "Initech Europe")
    auth.login(support)
    page = client.get("/support/?q=tech-eu").get_data(as_text=True)
    assert organisation.slug == "initech-europe"
    assert f'href="/support/users/{organisation.user_id}">Initech Europe</a>' in page


def test_a_members_address_finds_them_and_their_organisations(
    client, auth, support, acme, developer, make_user
):
    other = create_organisation(developer, "Globex")
    create_organisation(make_user("initech@example.com"), "Initech")
    auth.login(support)
    page = client.get("/support/?q=dev@example").get_data(as_text=True)
    assert f'href="/support/users/{developer.id}">dev@example.com</a>' in page
    assert f'href="/support/users/{acme.user_id}">Acme</a>' in page
    assert f'href="/support/users/{other.user_id}">Globex</a>' in page
    assert "Initech" not in page  # not one of hers
    assert "Member of Acme, Globex" in page  # her row says where she belongs


def test_an_organisations_key_prefix_finds_the_organisation(client, auth, support, acme, owner):
    key, secret = create_key(acme.account, "Shared server")
    create_key(owner, "Personal laptop")
    auth.login(support)
    for query in (key.prefix, secret):
        page = client.get("/support/", query_string={"q": query}).get_data(as_text=True)
        assert f'href="/support/users/{acme.user_id}">Acme</a>' in page
        assert owner.email not in page  # the owner's own key has another prefix
        assert made_up_address(acme) not in page


def test_pages_of_people_and_organisations_list_each_once(app, make_user, owner):
    """Organisations list by slug and people by email, in one order: the pages cover every
    match exactly once, and each page continues after the last name it showed."""
    for n in range(4):
        make_user(f"mix{n}@mixed.test")
        create_organisation(owner, f"Mix {n} Mixed")
    expected = {f"mix{n}@mixed.test" for n in range(4)} | {f"mix-{n}-mixed" for n in range(4)}
    seen, after, pages = [], None, 0
    while True:
        page = search_accounts("mix", after=after, size=3)
        names = [r.organisation.slug if r.organisation else r.account.email for r in page.results]
        seen += names
        pages += 1
        if page.next_after is None:
            break
        assert page.next_after == names[-1]
        after = page.next_after
    assert pages == 3
    assert sorted(seen) == sorted(expected)  # none twice, none missing


def test_the_next_link_continues_after_an_organisation(client, auth, support, owner):
    for n in range(26):
        create_organisation(owner, f"Paged {n:02d}")
    auth.login(support)
    first = client.get("/support/?q=paged").get_data(as_text=True)
    assert first.count('data-testid="organisation-result"') == 25
    assert "after=paged-24" in first
    second = client.get("/support/?q=paged&after=paged-24").get_data(as_text=True)
    assert second.count('data-testid="organisation-result"') == 1
    assert ">Paged 25</a>" in second
    assert "Next 25" not in second


# The organisation's page, and a person's organisations


def test_an_organisations_page_shows_its_people(client, auth, support, acme, owner, developer):
    invite(owner, acme, "new@example.com", Role.VIEWER)
    auth.login(support)
    response = client.get(f"/support/users/{acme.user_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<h1 class="h3 mb-1">Acme</h1>' in page
    assert f'data-testid="organisation-slug">{acme.slug}<' in page
    assert f'data-testid="billing-email">{owner.email}<' in page
    assert 'data-testid="pending-invitations">1<' in page
    members = page[page.index('data-testid="members"') :]
    members = members[: members.index("</table>")]
    assert f'href="/support/users/{owner.id}">{owner.email}</a>' in members
    assert f'href="/support/users/{developer.id}">{developer.email}</a>' in members
    assert "<td>owner</td>" in members and "<td>developer</td>" in members
    assert members.index(owner.email) < members.index(developer.email)  # owners first
    assert f">{made_up_address(acme)}<" not in page
    assert "View as this organisation</button>" in page


def test_an_organisation_is_offered_a_plan_but_no_role(client, auth, admin, acme):
    auth.login(admin)
    page = client.get(f"/support/users/{acme.user_id}").get_data(as_text=True)
    assert "Save plan" in page
    assert "Save role" not in page
    assert "An organisation has no role of its own" in page


def test_posting_a_role_for_an_organisation_is_refused(client, auth, admin, acme):
    auth.login(admin)
    for role in ("support", "user"):
        response = client.post(f"/support/users/{acme.user_id}/role", data={"role": role})
        assert response.status_code == 403
        assert "An organisation has no role of its own" in response.get_data(as_text=True)
    assert reload(acme.account).role == "user"
    assert events("user.role") == []


def test_the_role_service_refuses_an_organisation(app, admin, acme):
    with pytest.raises(NotAllowed, match="no role of its own"):
        change_role(admin, acme.account, "support")
    assert reload(acme.account).role == "user"


def test_a_persons_page_lists_their_organisations(client, auth, support, acme, developer):
    globex = create_organisation(developer, "Globex")
    auth.login(support)
    page = client.get(f"/support/users/{developer.id}").get_data(as_text=True)
    listed = page[page.index('data-testid="belongs-to"') :]
    listed = listed[: listed.index("</ul>")]
    assert f'href="/support/users/{acme.user_id}">Acme</a>' in listed
    assert f'href="/support/users/{globex.user_id}">Globex</a>' in listed
    assert "· developer" in listed and "· owner" in listed
    assert listed.index("Acme") < listed.index("Globex")


def test_a_person_without_organisations_gets_no_such_list(client, auth, support, customer):
    auth.login(support)
    page = client.get(f"/support/users/{customer.id}").get_data(as_text=True)
    assert 'data-testid="belongs-to"' not in page
    assert "Save role" not in page  # support staff: neither form (super admins only)


# Viewing as an organisation


def test_support_may_view_as_an_organisation(app, support, acme):
    assert impersonation_refusal(support, acme.account) is None


def test_viewing_as_an_organisation_is_read_only_audited_and_named(client, auth, support, acme):
    key, _ = create_key(acme.account, "Shared server")
    auth.login(support)
    response = start_viewing(client, acme.account)
    assert response.status_code == 303
    welcome = client.get(response.headers["Location"], follow_redirects=True)
    assert "Now viewing as Acme (acme)." in welcome.get_data(as_text=True)
    for path in ("/usage/", "/keys/", "/logs/", "/account/"):
        page = client.get(path)
        text = page.get_data(as_text=True)
        assert page.status_code == 200, path
        assert 'data-testid="impersonated-organisation">Acme</strong>' in text, path
        assert f"({acme.slug})" in text, path
        assert 'data-testid="impersonated-email"' not in text, path
    assert key.prefix in client.get("/keys/").get_data(as_text=True)  # the organisation's keys
    refused = client.post("/keys/", data={"name": "sneaky"})
    assert refused.status_code == 403
    assert "Not allowed while viewing as a customer" in refused.get_data(as_text=True)
    (started,) = events("impersonation.start")
    assert (started.actor_id, started.subject_id) == (support.id, acme.user_id)
    assert started.details["reason"] == REASON
    reads = events("impersonation.read")
    assert {e.details["path"] for e in reads} >= {"/usage/", "/keys/", "/logs/", "/account/"}
    assert all(e.subject_id == acme.user_id for e in reads)
    ended = client.post("/support/impersonation/end", follow_redirects=True)
    assert "You stopped viewing as Acme (acme)." in ended.get_data(as_text=True)
    (end,) = events("impersonation.end")
    assert end.subject_id == acme.user_id
    db.session.expire_all()
    assert db.session.scalar(sa.select(Impersonation.ended_how)) == "button"


def test_the_organisations_page_lists_support_access(client, auth, support, acme):
    auth.login(support)
    start_viewing(client, acme.account)
    client.post("/support/impersonation/end")
    page = client.get(f"/support/users/{acme.user_id}").get_data(as_text=True)
    assert f"viewed: “{REASON}”" in page


# Plans


def test_a_super_admin_changes_an_organisations_plan(client, auth, admin, acme):
    auth.login(admin)
    response = client.post(
        f"/support/users/{acme.user_id}/plan", data={"plan": "scale"}, follow_redirects=True
    )
    assert "Acme (acme) is now on Scale." in response.get_data(as_text=True)
    assert reload(acme.account).subscription_plan == "scale"
    (event,) = events("user.plan")
    assert (event.actor_id, event.subject_id) == (admin.id, acme.user_id)
    assert event.details == {"old": "free", "new": "scale"}


def test_support_staff_cannot_change_an_organisations_plan(client, auth, support, acme):
    auth.login(support)
    response = client.post(f"/support/users/{acme.user_id}/plan", data={"plan": "scale"})
    assert response.status_code == 403
    assert reload(acme.account).subscription_plan == "free"
    assert events("user.plan") == []


# The audit log


def test_the_audit_log_names_an_organisation_and_finds_it_by_name(client, auth, admin, acme):
    auth.login(admin)
    client.post(f"/support/users/{acme.user_id}/plan", data={"plan": "pro"})
    page = client.get(f"/support/users/{acme.user_id}").get_data(as_text=True)
    assert f'href="/support/audit?subject={acme.slug}"' in page
    for subject in ("acme", "ACME"):
        log = client.get("/support/audit", query_string={"subject": subject, "action": "user.plan"})
        text = log.get_data(as_text=True)
        assert text.count("<tr>") == 2  # the header and the plan change
        assert f'href="/support/users/{acme.user_id}">Acme</a>' in text
        assert made_up_address(acme) not in text
    other = client.get("/support/audit", query_string={"subject": "globex"})
    assert "No events match these filters" in other.get_data(as_text=True)
