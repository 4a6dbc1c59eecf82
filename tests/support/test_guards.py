"""What a support person may not do while viewing as a customer, and what they may."""

import uuid

import pytest
from flask import Blueprint
from flask_login import current_user, login_required

from dashboard.auth.passwords import password_matches
from dashboard.extensions import db
from dashboard.keys.rules import key_status
from dashboard.keys.service import key_of
from dashboard.models import ApiKey, User, utcnow
from dashboard.support.guards import (
    ALLOWED_WRITES,
    REFUSED_MESSAGE,
    SAFE_METHODS,
    forbidden_while_impersonating,
    refused_reads,
    refused_while_impersonating,
)
from tests.conftest import PASSWORD
from tests.support.conftest import events, start_viewing

probe = Blueprint("probe", __name__, url_prefix="/probe")


@probe.route("/write", methods=["POST"])
@login_required
def write():
    """A write some other feature might add: refused by default while viewing."""
    return f"wrote as {current_user.email}"


@probe.get("/read")
@login_required
def read():
    return f"read as {current_user.email}"


@probe.get("/guarded")
@login_required
@forbidden_while_impersonating
def guarded():
    """A read that a feature marks as the customer's only, with the decorator."""
    return "secret page"


def fake_expire(key_id):
    """Stands in for keys.expire until the keys page lands: expire the current user's key."""
    key = key_of(current_user, key_id)
    if key is None:
        return "no such key", 404
    key.expires_at = utcnow()
    db.session.commit()
    return "expired", 303


@pytest.fixture(autouse=True)
def probes(app):
    """Register the test-only routes before the first request."""
    app.register_blueprint(probe)
    if "keys.expire" not in app.view_functions:
        app.add_url_rule(
            "/keys/<key_id>/expire", "keys.expire", login_required(fake_expire), methods=["POST"]
        )


def refused(response) -> bool:
    return response.status_code == 403 and REFUSED_MESSAGE in response.get_data(as_text=True)


def test_the_banner_reads_viewing_as_with_an_end_button(client, viewing):
    page = client.get("/probe/read")
    assert page.get_data(as_text=True) == f"read as {viewing.email}"
    html = client.get("/logs/").get_data(as_text=True)
    assert "You are viewing as" in html and viewing.email in html
    assert 'action="/support/impersonation/end"' in html
    assert '>End<span class="visually-hidden">' in html


def test_password_change_is_refused(client, viewing):
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "x" * 12, "confirm_password": "x" * 12},
    )
    assert refused(response)
    db.session.expire_all()
    assert password_matches(db.session.get(User, viewing.id).password_hash, PASSWORD)


def test_account_deletion_is_refused(client, viewing):
    response = client.post(
        "/account/delete", data={"confirm_email": viewing.email, "password": PASSWORD}
    )
    assert refused(response)
    assert db.session.get(User, viewing.id) is not None


def test_reading_the_customers_pages_is_allowed(client, viewing):
    for url in ("/account/", "/logs/", "/usage/", "/keys/", "/tools/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert viewing.email in response.get_data(as_text=True)


def test_a_new_post_route_is_refused_by_default(client, viewing):
    assert refused(client.post("/probe/write"))
    assert client.get("/probe/read").status_code == 200


def test_the_same_post_route_works_for_the_customer(client, auth, customer):
    auth.login(customer)
    assert client.post("/probe/write").get_data(as_text=True) == f"wrote as {customer.email}"


def test_the_decorator_refuses_a_view_while_viewing(client, viewing, auth, support):
    assert refused(client.get("/probe/guarded"))
    client.post("/support/impersonation/end")
    assert client.get("/probe/guarded").get_data(as_text=True) == "secret page"


def test_htmx_refusals_go_to_the_flash_area(client, viewing):
    response = client.post("/probe/write", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "<html" not in body and REFUSED_MESSAGE in body
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["X-Impersonation-Refused"] == "1"


def test_viewing_as_again_and_the_console_are_refused(client, viewing, make_user):
    other = make_user()
    assert refused(start_viewing(client, other))
    assert refused(client.get("/support/"))
    assert refused(client.get(f"/support/users/{other.id}"))
    assert refused(client.post(f"/support/users/{other.id}/plan", data={"plan": "scale"}))
    assert db.session.get(User, other.id).subscription_plan == "free"
    assert len(events("impersonation.start")) == 1


def test_signing_up_or_logging_in_is_refused(client, viewing):
    assert refused(client.post("/login", data={"email": viewing.email, "password": PASSWORD}))
    assert refused(client.post("/signup", data={"email": "new@example.com", "password": "x" * 12}))


def placeholder_value(rule, name: str):
    converter = type(rule._converters[name]).__name__
    return {"IntegerConverter": 1, "FloatConverter": 1.0, "UUIDConverter": uuid.uuid4()}.get(
        converter, str(uuid.uuid4())
    )


def test_every_write_endpoint_outside_the_allowlist_is_refused(app, client, viewing):
    adapter = app.url_map.bind("localhost")
    checked = []
    for rule in app.url_map.iter_rules():
        unsafe = sorted((rule.methods or set()) - SAFE_METHODS)
        if not unsafe or rule.endpoint in ALLOWED_WRITES or rule.rule.startswith("/api/"):
            continue  # the JSON API authenticates with keys, never with the session
        values = {name: placeholder_value(rule, name) for name in rule.arguments}
        url = adapter.build(rule.endpoint, values, method=unsafe[0])
        for method in unsafe:
            response = client.open(url, method=method)
            assert response.status_code == 403, (rule.endpoint, method, response.status_code)
            assert REFUSED_MESSAGE in response.get_data(as_text=True), rule.endpoint
            checked.append(rule.endpoint)
    assert {"account.password", "account.delete", "support.impersonate", "probe.write"} <= set(
        checked
    )
    assert "impersonated-email" in client.get("/account/").get_data(as_text=True)  # still on
    assert [e.action for e in events()] == ["impersonation.start"]  # refusals change nothing


def expire_url(app, key) -> str:
    rule = next(app.url_map.iter_rules("keys.expire"))
    values = dict.fromkeys(rule.arguments, key.id)
    return app.url_map.bind("localhost").build("keys.expire", values, method="POST")


def test_expiring_a_key_is_allowed_and_audited(app, client, viewing, support, make_user):
    from dashboard.keys.service import create_key

    key, _ = create_key(viewing, "Leaked key")
    response = client.post(expire_url(app, key))
    assert response.status_code < 400
    db.session.expire_all()
    assert key_status(db.session.get(ApiKey, key.id), utcnow()) == "revoked"
    (event,) = events("key.expire")
    assert (event.actor_id, event.subject_id) == (support.id, viewing.id)
    assert event.details["key_prefix"] == key.prefix
    assert event.details["endpoint"] == "keys.expire"


def test_the_customer_sees_that_support_expired_a_key(app, client, viewing, support, auth):
    from dashboard.keys.service import create_key

    key, _ = create_key(viewing, "Leaked key")
    client.post(expire_url(app, key))
    client.post("/logout")
    auth.login(viewing)
    page = client.get("/account/").get_data(as_text=True)
    assert f"Support ({support.email})" in page
    assert f'expired your key <span class="mono">{key.prefix}' in page


def test_the_actor_shown_is_the_actor_recorded(app, client, auth, support, customer):
    from dashboard.keys.service import create_key

    own, _ = create_key(customer, "Expired by its owner")
    by_support, _ = create_key(customer, "Expired by support")
    auth.login(customer)
    client.post(expire_url(app, own))
    assert [e.actor_id for e in events("key.expire")] == [customer.id]

    def support_access(page: str, marker: str = 'data-testid="support-access"') -> str:
        """The support-access card of a page, its whitespace collapsed."""
        return " ".join(page.split(marker)[1].split("</section>")[0].split())

    def console_access() -> str:
        page = client.get(f"/support/users/{customer.id}").get_data(as_text=True)
        return support_access(page, 'aria-labelledby="access-heading"')

    mine = support_access(client.get("/account/").get_data(as_text=True))
    assert "Support (" not in mine and own.prefix not in mine
    assert "Support has not viewed your account." in mine
    client.post("/logout")
    auth.login(support)
    console = console_access()
    assert "Nobody from support has viewed this account." in console
    assert own.prefix not in console

    start_viewing(client, customer)
    client.post(expire_url(app, by_support))
    viewed = support_access(client.get("/account/").get_data(as_text=True))  # as support sees it
    client.post("/support/impersonation/end")
    console = console_access()
    client.post("/logout")
    auth.login(customer)
    mine = support_access(client.get("/account/").get_data(as_text=True))
    for page in (mine, viewed):
        expired = f'Support ({support.email})</strong> expired your key <span class="mono">'
        assert expired + by_support.prefix in page
        assert own.prefix not in page and f"Support ({customer.email})" not in page
        assert "viewed your account" in page
    assert f"{support.email} · expired key" in console and by_support.prefix in console
    assert own.prefix not in console and f"{customer.email} · expired" not in console


def test_expiring_someone_elses_key_does_nothing(app, client, viewing, make_user):
    from dashboard.keys.service import create_key

    other_key, _ = create_key(make_user(), "Not theirs")
    response = client.post(expire_url(app, other_key))
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiKey, other_key.id).expires_at is None
    (event,) = events("key.expire")
    assert "key_prefix" not in event.details
    assert event.details["status"] == 404


def test_every_allowed_write_writes_an_audit_row(app, client, viewing):
    from dashboard.keys.service import create_key

    key, _ = create_key(viewing, "k")
    client.post(expire_url(app, key))
    client.post("/support/impersonation/end")
    assert [e.action for e in events()] == [
        "impersonation.start",
        "key.expire",
        "impersonation.end",
    ]


def test_every_name_in_the_guard_exists_in_the_url_map(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert ALLOWED_WRITES <= endpoints
    reads = refused_reads(app)
    assert reads <= endpoints
    assert {"keys.edit_form", "keys.roll_form", "probe.guarded"} <= reads


def test_every_form_page_of_a_refused_write_is_refused_too(app):
    """A GET page at the same path as a refused write prepares that write: it must be refused,
    unless it is a list page (its path ends with "/") that only also holds a form."""
    writes = {}
    for rule in app.url_map.iter_rules():
        if (rule.methods or set()) - SAFE_METHODS and rule.endpoint not in ALLOWED_WRITES:
            writes.setdefault(rule.rule, rule.endpoint)
    form_pages = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
        and rule.rule in writes
        and not rule.rule.endswith("/")
        and not rule.rule.startswith("/api/")
        and not rule.endpoint.startswith("auth.")  # pages for logged-out people
    ]
    assert {"keys.edit_form", "keys.roll_form"} <= set(form_pages)
    # Detail pages that support may read while viewing; their forms post elsewhere or are
    # refused on their own (the write at the same path is refused).
    readable_details = {"webhooks.show"}
    unrefused = [
        endpoint
        for endpoint in form_pages
        if endpoint not in readable_details
        and not endpoint.startswith("tool_admin.")  # super admins only: a customer gets 404
        and not refused_while_impersonating(endpoint, "GET")
    ]
    assert not unrefused


def test_key_forms_are_refused_while_viewing(client, viewing, customer_key):
    key = customer_key[0]
    for page in (f"/keys/{key.id}/edit", f"/keys/{key.id}/roll"):
        response = client.get(page)
        assert response.status_code == 403, page
        assert REFUSED_MESSAGE in response.get_data(as_text=True)
