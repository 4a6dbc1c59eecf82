"""Super admins' powers: roles, plans and the audit log; and CSRF on every console action."""

from datetime import timedelta

import pytest
from flask import g

from dashboard.extensions import db
from dashboard.models import AuditEvent, User, utcnow
from tests.conftest import PASSWORD
from tests.support.conftest import REASON, events, start_viewing


def reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_super_admin_grants_and_removes_the_support_role(client, auth, admin, customer):
    auth.login(admin)
    response = client.post(f"/support/users/{customer.id}/role", data={"role": "support"})
    assert response.status_code == 303
    assert reload(customer).role == "support"
    client.post(f"/support/users/{customer.id}/role", data={"role": "user"})
    assert reload(customer).role == "user"
    changes = events("user.role")
    assert [e.details for e in changes] == [
        {"old": "user", "new": "support"},
        {"old": "support", "new": "user"},
    ]
    assert all(e.actor_id == admin.id and e.subject_id == customer.id for e in changes)
    assert all(e.ip == "127.0.0.1" for e in changes)


def test_super_admin_changes_a_plan(client, auth, admin, customer):
    auth.login(admin)
    response = client.post(
        f"/support/users/{customer.id}/plan", data={"plan": "scale"}, follow_redirects=True
    )
    assert f"{customer.email} is now on Scale." in response.get_data(as_text=True)
    assert reload(customer).subscription_plan == "scale"
    (event,) = events("user.plan")
    assert event.details == {"old": "pro", "new": "scale"}


def test_unchanged_values_write_nothing(client, auth, admin, customer):
    auth.login(admin)
    client.post(f"/support/users/{customer.id}/plan", data={"plan": "pro"})
    client.post(f"/support/users/{customer.id}/role", data={"role": "user"})
    assert events() == []


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("plan", {"plan": "platinum"}, "Not a valid choice"),
        ("plan", {}, "Choose a plan."),
        ("role", {"role": "admin"}, "Not a valid choice"),
    ],
)
def test_bad_role_or_plan_values_are_explained(client, auth, admin, customer, path, data, message):
    auth.login(admin)
    response = client.post(f"/support/users/{customer.id}/{path}", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert (reload(customer).role, reload(customer).subscription_plan) == ("user", "pro")
    assert events() == []


def test_super_admins_roles_are_not_changed_in_the_console(client, auth, admin, make_user):
    from dashboard.models import SuperAdmin

    other = make_user()
    db.session.add(SuperAdmin(user_id=other.id))
    db.session.commit()
    auth.login(admin)
    response = client.post(f"/support/users/{other.id}/role", data={"role": "support"})
    assert response.status_code == 403
    assert reload(other).role == "user"


@pytest.mark.parametrize(
    ("path", "data"), [("role", {"role": "support"}), ("plan", {"plan": "scale"})]
)
def test_support_staff_cannot_change_roles_or_plans(client, auth, support, customer, path, data):
    auth.login(support)
    response = client.post(f"/support/users/{customer.id}/{path}", data=data)
    assert response.status_code == 403
    assert "Only super admins" in response.get_data(as_text=True)
    assert (reload(customer).role, reload(customer).subscription_plan) == ("user", "pro")
    assert events() == []


def test_support_staff_cannot_promote_themselves(client, auth, support):
    auth.login(support)
    client.post(f"/support/users/{support.id}/plan", data={"plan": "scale"})
    client.post(f"/support/users/{support.id}/role", data={"role": "support"})
    assert reload(support).subscription_plan == "free"
    assert events() == []


def test_support_staff_see_no_role_or_plan_forms(client, auth, support, customer):
    auth.login(support)
    page = client.get(f"/support/users/{customer.id}").get_data(as_text=True)
    assert "Save plan" not in page and "Save role" not in page


def test_super_admins_see_the_forms(client, auth, admin, customer):
    auth.login(admin)
    page = client.get(f"/support/users/{customer.id}").get_data(as_text=True)
    assert "Save plan" in page and "Save role" in page


def test_audit_log_is_for_super_admins_only(client, auth, support):
    auth.login(support)
    response = client.get("/support/audit")
    assert response.status_code == 403
    assert "Only super admins" in response.get_data(as_text=True)


def add_event(action: str, actor: str, subject: str, at) -> None:
    db.session.add(
        AuditEvent(
            action=action, actor_email=actor, subject_email=subject, details={}, created_at=at
        )
    )


def test_audit_log_shows_actions_newest_first(client, auth, admin, support, customer):
    auth.login(support)
    start_viewing(client, customer)
    client.post("/support/impersonation/end")
    auth.logout()
    auth.login(admin)
    client.post(f"/support/users/{customer.id}/plan", data={"plan": "free"})
    page = client.get("/support/audit").get_data(as_text=True).split("<tbody>")[1]
    assert page.index("user.plan") < page.index("impersonation.end")
    assert page.index("impersonation.end") < page.index("impersonation.start")
    assert REASON in page and "ended: button" in page and "pro → free" in page
    assert support.email.replace("@", "<wbr>@") in page  # a line may break before the @
    assert customer.email.replace("@", "<wbr>@") in page


def test_audit_log_filters(client, auth, admin):
    now = utcnow().replace(microsecond=0)
    add_event("user.plan", "boss@corp.test", "ana@x.test", now - timedelta(days=3))
    add_event("impersonation.start", "helper@corp.test", "ana@x.test", now - timedelta(days=1))
    add_event("impersonation.start", "helper@corp.test", "bob@x.test", now)
    db.session.commit()
    auth.login(admin)

    def rows(**query) -> int:
        return client.get("/support/audit", query_string=query).get_data(as_text=True).count("<tr>")

    assert rows() == 4  # the header row and three events
    assert rows(action="impersonation.start") == 3
    assert rows(actor="HELPER@") == 3
    assert rows(subject="ana@") == 3
    assert rows(subject="ana@", action="user.plan") == 2
    day = (now - timedelta(days=1)).date().isoformat()
    assert rows(since=day, until=day) == 2
    assert rows(since=day) == 3
    empty = client.get("/support/audit?actor=nobody").get_data(as_text=True)
    assert "No events match these filters" in empty


def test_audit_log_with_a_malformed_date_or_cursor(client, auth, admin):
    auth.login(admin)
    response = client.get("/support/audit?since=yesterday&before=garbage")
    assert response.status_code == 200
    assert "Not a valid date value" in response.get_data(as_text=True)


def test_audit_log_pages_by_50_without_overlap(client, auth, admin):
    start = utcnow().replace(microsecond=0) - timedelta(hours=2)
    for n in range(55):
        # Pairs share a timestamp, so the id breaks ties in the cursor.
        add_event(
            "user.plan", f"actor{n:02d}@corp.test", "s@x.test", start + timedelta(minutes=n // 2)
        )
    db.session.commit()
    auth.login(admin)
    first = client.get("/support/audit").get_data(as_text=True)
    assert first.count("@corp.test</td>") == 50
    assert "Older →" in first
    before = first.split("before=")[1].split('"')[0].split("&")[0]
    second = client.get(f"/support/audit?before={before}", headers={"HX-Request": "true"})
    body = second.get_data(as_text=True)
    assert "<html" not in body and "Older →" not in body
    shown = {f"actor{n:02d}" for n in range(55) if f"actor{n:02d}<wbr>@" in first}
    rest = {f"actor{n:02d}" for n in range(55) if f"actor{n:02d}<wbr>@" in body}
    assert len(shown) == 50 and len(rest) == 5 and not shown & rest
    assert {f"actor{n:02d}" for n in range(4)} < rest  # the oldest (4 and 5 tie on time)


def test_audit_page_and_fragment(client, auth, admin):
    auth.login(admin)
    assert "<html" in client.get("/support/audit").get_data(as_text=True)
    fragment = client.get("/support/audit", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert "No events" in fragment.get_data(as_text=True)


class TestCsrf:
    @pytest.fixture
    def app_overrides(self):
        return {"WTF_CSRF_ENABLED": True}

    @staticmethod
    def token(client, url: str) -> str:
        """The CSRF token a page renders (Flask-WTF caches it in `g`, which the test's pushed
        app context keeps between requests, so drop the cache first, as a real request would)."""
        g.pop("csrf_token", None)
        page = client.get(url).get_data(as_text=True)
        return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]

    def login(self, client, user):
        token = self.token(client, "/login")
        response = client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303

    def test_console_actions_need_the_token(self, client, admin, customer):
        self.login(client, admin)
        for path, data in (
            ("impersonate", {"reason": REASON}),
            ("role", {"role": "support"}),
            ("plan", {"plan": "scale"}),
        ):
            response = client.post(f"/support/users/{customer.id}/{path}", data=data)
            assert response.status_code == 400, path
            assert "This form has expired" in response.get_data(as_text=True)
        assert (reload(customer).role, reload(customer).subscription_plan) == ("user", "pro")
        assert events() == []

    def test_ending_needs_the_token(self, client, support, customer):
        self.login(client, support)
        token = self.token(client, f"/support/users/{customer.id}")
        response = client.post(
            f"/support/users/{customer.id}/impersonate",
            data={"reason": REASON, "csrf_token": token},
        )
        assert response.status_code == 303
        assert client.post("/support/impersonation/end").status_code == 400
        assert "impersonated-email" in client.get("/account/").get_data(as_text=True)
        response = client.post("/support/impersonation/end", data={"csrf_token": token})
        assert response.status_code == 303
        assert [e.details["how"] for e in events("impersonation.end")] == ["button"]
