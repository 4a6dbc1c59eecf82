"""Who reaches the console, search, and a customer's page."""

import uuid
from datetime import timedelta

import pytest

from dashboard.keys.service import create_key
from dashboard.models import utcnow
from tests.support.conftest import make_call

CONSOLE_GETS = ["/support/", "/support/?q=a", "/support/users/{id}", "/support/audit"]
CONSOLE_POSTS = [
    "/support/users/{id}/impersonate",
    "/support/users/{id}/role",
    "/support/users/{id}/plan",
    "/support/impersonation/end",
]


@pytest.mark.parametrize("url", CONSOLE_GETS + CONSOLE_POSTS)
def test_console_is_a_404_for_anonymous_visitors(client, customer, url):
    method = client.post if url in CONSOLE_POSTS else client.get
    response = method(
        url.format(id=customer.id), data={"reason": "looking around", "role": "support"}
    )
    assert response.status_code == 404
    assert "support" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("url", CONSOLE_GETS + CONSOLE_POSTS)
def test_console_is_a_404_for_customers(client, auth, make_user, customer, url):
    auth.login(make_user())
    method = client.post if url in CONSOLE_POSTS else client.get
    data = {"reason": "looking around", "role": "support", "plan": "scale"}
    response = method(url.format(id=customer.id), data=data)
    assert response.status_code == 404
    assert customer.email not in response.get_data(as_text=True)
    assert customer.subscription_plan == "pro"


def test_customers_do_not_see_the_support_link(client, logged_in):
    assert 'href="/support/"' not in client.get("/account/").get_data(as_text=True)


@pytest.mark.parametrize("who", ["support", "admin"])
def test_staff_reach_the_console(client, auth, request, who):
    auth.login(request.getfixturevalue(who))
    response = client.get("/support/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Support console" in page
    assert "Search for a customer" in page
    assert ('href="/support/audit"' in page) == (who == "admin")


def test_search_by_email_part_ignores_case(client, auth, support, make_user):
    make_user("Ana.Lopez@Example.com")
    make_user("bob@example.com")
    auth.login(support)
    page = client.get("/support/?q=ANA.lo").get_data(as_text=True)
    assert "ana.lopez@example.com" in page
    assert "bob@example.com" not in page


def test_search_escapes_wildcards(client, auth, support, make_user):
    make_user("percent@example.com")
    auth.login(support)
    page = client.get("/support/?q=%25").get_data(as_text=True)
    assert "percent@example.com" not in page
    assert "No account matches" in page


def test_search_by_user_id(client, auth, support, customer, make_user):
    make_user()
    auth.login(support)
    page = client.get(f"/support/?q={customer.id}").get_data(as_text=True)
    assert customer.email in page
    assert page.count('href="/support/users/') == 1
    missing = client.get(f"/support/?q={uuid.uuid4()}").get_data(as_text=True)
    assert "No account has that id" in missing


def test_search_by_key_prefix_or_pasted_secret(client, auth, support, customer, make_user):
    other = make_user()
    key, secret = create_key(customer, "Production")
    create_key(other, "Other")
    auth.login(support)
    for query in (key.prefix, secret):
        page = client.get("/support/", query_string={"q": query}).get_data(as_text=True)
        assert customer.email in page
        assert other.email not in page
    page = client.get("/support/?q=tk_live_zzzzzz").get_data(as_text=True)
    assert "No key starts with that prefix" in page


def test_search_pages_by_25_with_a_next_link(client, auth, support, make_user):
    for n in range(27):
        make_user(f"page{n:02d}@paged.test")
    auth.login(support)
    first = client.get("/support/?q=paged.test").get_data(as_text=True)
    assert first.count("@paged.test</a>") == 25
    assert "page24@paged.test" in first and "page25@paged.test" not in first
    assert "after=page24@paged.test" in first
    second = client.get("/support/?q=paged.test&after=page24@paged.test").get_data(as_text=True)
    assert second.count("@paged.test</a>") == 2
    assert "Next 25" not in second


def test_search_fragment_for_htmx(client, auth, support, customer):
    auth.login(support)
    full = client.get(f"/support/?q={customer.email}")
    fragment = client.get(f"/support/?q={customer.email}", headers={"HX-Request": "true"})
    assert "<html" in full.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert customer.email in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize("path", ["/support/?q=example", "/support/audit"])
def test_back_button_history_restore_gets_the_whole_page(client, auth, admin, path):
    """htmx asks again with HX-History-Restore-Request when its cache is empty: a whole page."""
    auth.login(admin)
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    response = client.get(path, headers=restore)
    assert "<html" in response.get_data(as_text=True)
    assert "HX-History-Restore-Request" in response.headers["Vary"]


@pytest.mark.parametrize(("who", "home"), [("support", "/support/"), ("admin", "/support/")])
def test_staff_land_on_the_console(client, auth, request, who, home):
    auth.login(request.getfixturevalue(who))
    assert client.get("/").headers["Location"].endswith(home)


def test_customers_land_on_usage(client, logged_in):
    assert client.get("/").headers["Location"].endswith("/usage/")


def test_staff_viewing_as_a_customer_land_on_the_customers_usage(client, viewing):
    assert client.get("/").headers["Location"].endswith("/usage/")


def test_audit_actions_read_as_words(client, auth, admin, viewing):
    client.post("/support/impersonation/end")
    auth.logout()
    auth.login(admin)
    page = client.get("/support/audit").get_data(as_text=True)
    assert "Started viewing as customer" in page and "Stopped viewing as customer" in page
    assert ">impersonation.start<" not in page


def test_search_refuses_overlong_queries_clearly(client, auth, support):
    auth.login(support)
    response = client.get("/support/", query_string={"q": "a" * 300})
    assert response.status_code == 200
    assert "at most 254 characters" in response.get_data(as_text=True)


def test_user_page_shows_plan_keys_usage_and_latest_errors(client, auth, support, customer):
    key, secret = create_key(customer, "Production server")
    create_key(customer, "Old laptop", expires_at=utcnow() - timedelta(days=1))
    start = utcnow() - timedelta(minutes=30)
    make_call(customer, key)
    for n in range(12):
        make_call(customer, key, "error", at=start + timedelta(minutes=n), code=f"code_{n:02d}")
    auth.login(support)
    response = client.get(f"/support/users/{customer.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Pro" in page
    assert key.prefix in page and "Production server" in page
    assert "Old laptop" in page and "expired" in page
    assert secret not in page and key.key not in page
    assert 'class="stat-value">13<' in page  # calls this month, from month_usage
    assert 'class="stat-value">12<' in page  # errors
    shown = [f"code_{n:02d}" for n in range(12) if f"code_{n:02d}" in page]
    assert shown == [f"code_{n:02d}" for n in range(2, 12)]  # the latest 10
    assert page.index("code_11") < page.index("code_02")  # newest first


def test_user_page_with_nothing_yet_explains(client, auth, support, customer):
    auth.login(support)
    page = client.get(f"/support/users/{customer.id}").get_data(as_text=True)
    assert "no API keys yet" in page
    assert "No failed calls logged" in page


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_user_page_for_unknown_or_malformed_ids(client, auth, support, user_id):
    auth.login(support)
    response = client.get(f"/support/users/{user_id}")
    assert response.status_code == 404
    assert "No account has that id" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["support", "admin"])
def test_staff_accounts_cannot_be_viewed_as(client, auth, request, make_user, who):
    auth.login(make_user(role="support"))
    target = request.getfixturevalue(who)
    page = client.get(f"/support/users/{target.id}").get_data(as_text=True)
    assert 'data-testid="impersonation-refusal"' in page
    assert "View as this user</button>" not in page
