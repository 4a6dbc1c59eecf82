"""The open account: the header's switcher, every account page scoped to it, each role's rights
from the roles table (a walk over every marked route), and access lost at once."""

import uuid

import pytest
import sqlalchemy as sa
from flask import url_for

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, AuditEvent, Membership
from dashboard.organisations.current import ANY_ROLE, permission_of
from dashboard.organisations.roles import Role, allows
from dashboard.organisations.service import create_organisation
from dashboard.organisations.settings import leaked_key_action
from tests.conftest import AuthActions
from tests.organisations.conftest import join
from tests.test_security import ownership_violations, url_with_ids

# Blueprints whose pages act on the open account: every view must carry @acts_on.
ACCOUNT_BLUEPRINTS = {
    "keys",
    "root_keys",
    "logs",
    "inbox",
    "usage",
    "tools",
    "alerts",
    "webhooks",
}
# Blueprints of the person (auth, settings), of an organisation named in the URL, of staff, and
# the service routes: they check who may do what themselves.
PERSON_BLUEPRINTS = {
    "auth",
    "account",
    "organisations",
    "support",
    "tool_admin",
    "portal_admin",
    "observability",
}


def as_member(app, person):
    client = app.test_client()
    AuthActions(client).login(person)
    return client


def switch(client, account_id) -> None:
    answer = client.post("/accounts/switch", data={"account": str(account_id), "next": "/keys/"})
    assert answer.status_code == 303, answer.get_data(as_text=True)


def test_every_page_is_an_account_page_with_a_rule_or_a_page_of_the_person(app):
    unclassified, unmarked = [], []
    for endpoint, view in app.view_functions.items():
        blueprint = endpoint.rpartition(".")[0]
        if endpoint == "static" or endpoint.startswith("api."):
            continue
        if blueprint in ACCOUNT_BLUEPRINTS:
            if permission_of(view) is None:
                unmarked.append(endpoint)
        elif blueprint not in PERSON_BLUEPRINTS:
            unclassified.append(endpoint)
    assert unmarked == [], "account pages without @acts_on(permission)"
    assert unclassified == [], "a new blueprint: list it as an account's or a person's"


def marked_routes(app):
    """(rule, method, permission) for every method of every route marked @acts_on."""
    for rule in app.url_map.iter_rules():
        permission = permission_of(app.view_functions.get(rule.endpoint))
        if permission is None:
            continue
        for method in ("GET", "POST"):
            if method in rule.methods:
                yield rule, method, permission


@pytest.mark.parametrize("role", list(Role))
def test_each_role_opens_exactly_the_routes_its_permissions_allow(
    app, owner, acme, make_user, role
):
    member = owner if role is Role.OWNER else make_user(f"{role.value}@example.com")
    if role is not Role.OWNER:
        join(acme, member, role)
    client = as_member(app, member)
    switch(client, acme.user_id)
    with app.test_request_context():
        walk = [
            (url_with_ids(rule, {"name": "echo", "version": "v1"}), method, permission)
            for rule, method, permission in marked_routes(app)
        ]
    assert len(walk) > 25
    wrong = []
    for url, method, permission in walk:
        status = client.open(url, method=method, data={"name": "x"}).status_code
        allowed = permission == ANY_ROLE or allows(role, permission)
        if (status == 403) == allowed:
            wrong.append(f"{method} {url} ({permission}) answered {status} to {role.value}")
    assert wrong == []


def test_a_viewer_refused_by_htmx_gets_the_reason_in_the_flash_area(app, owner, acme, make_user):
    viewer = make_user("viewer@example.com")
    join(acme, viewer, Role.VIEWER)
    client = as_member(app, viewer)
    switch(client, acme.user_id)
    answer = client.post("/keys/", data={"name": "ci"}, headers={"HX-Request": "true"})
    assert answer.status_code == 403
    assert answer.headers["HX-Retarget"] == "#flashes"
    assert "Your role in Acme (viewer) may not do this." in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0


def test_the_switcher_opens_the_organisation_and_its_keys_only(app, owner, acme):
    create_key(owner, "Personal key")
    create_key(acme.account, "Acme production")
    client = as_member(app, owner)
    personal = client.get("/keys/").get_data(as_text=True)
    assert "Personal key" in personal and "Acme production" not in personal
    assert 'data-testid="current-account">Personal<' in personal
    switch(client, acme.user_id)
    page = client.get("/keys/").get_data(as_text=True)
    assert "Acme production" in page and "Personal key" not in page
    assert 'data-testid="current-account">Acme<' in page
    assert f'href="/o/{acme.slug}/members/"' in page  # the Members tab
    switch(client, owner.id)
    assert "Personal key" in client.get("/keys/").get_data(as_text=True)


def test_a_switch_lands_on_the_same_list_never_on_a_record_or_elsewhere(app, owner, acme):
    client = as_member(app, owner)
    for target, landing in [
        ("/logs/", "/logs/"),
        (f"/keys/{uuid.uuid4()}", "/"),
        ("//evil.example/keys/", "/"),
        ("https://evil.example/", "/"),
    ]:
        answer = client.post(
            "/accounts/switch", data={"account": str(acme.user_id), "next": target}
        )
        assert answer.headers["Location"] == landing, target


def test_an_account_that_is_not_yours_cannot_be_opened(app, owner, make_user):
    stranger_org = create_organisation(make_user("else@example.com"), "Elsewhere")
    client = as_member(app, owner)
    for account in (stranger_org.user_id, uuid.uuid4(), "not-an-id"):
        answer = client.post("/accounts/switch", data={"account": str(account)})
        assert answer.status_code == 303
        page = client.get("/keys/").get_data(as_text=True)
        assert 'data-testid="current-account">Personal<' in page
    assert "That account is not one of yours." in page


def test_keys_made_by_a_member_belong_to_the_organisation_and_name_who(app, owner, acme, make_user):
    developer = make_user("dev@example.com")
    join(acme, developer, Role.DEVELOPER)
    client = as_member(app, developer)
    switch(client, acme.user_id)
    assert (
        client.post(
            "/keys/", data={"name": "CI", "expiry": "never", "rate_limit_per_minute": "100"}
        ).status_code
        == 303
    )
    key = db.session.scalar(sa.select(ApiKey).where(ApiKey.name == "CI"))
    assert key.user_id == acme.user_id
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "key.create"))
    assert (event.actor_id, event.subject_id) == (developer.id, acme.user_id)
    owners_view = as_member(app, owner)
    switch(owners_view, acme.user_id)
    history = owners_view.get(f"/keys/{key.id}").get_data(as_text=True)
    assert "dev@example.com" in history
    assert "support (dev@example.com)" not in history


def test_a_removed_member_loses_the_organisation_on_the_next_request(app, owner, acme, make_user):
    create_key(acme.account, "Acme production")
    developer = make_user("dev@example.com")
    join(acme, developer, Role.DEVELOPER)
    client = as_member(app, developer)
    switch(client, acme.user_id)
    assert "Acme production" in client.get("/keys/").get_data(as_text=True)
    db.session.execute(sa.delete(Membership).where(Membership.person_id == developer.id))
    db.session.commit()
    page = client.get("/keys/").get_data(as_text=True)
    assert "Acme production" not in page
    assert "You are no longer a member of that organisation" in page
    assert 'data-testid="current-account">Personal<' in page


def test_a_role_change_holds_from_the_next_request(app, owner, acme, make_user):
    member = make_user("dev@example.com")
    join(acme, member, Role.DEVELOPER)
    client = as_member(app, member)
    switch(client, acme.user_id)
    assert client.get(f"/keys/{uuid.uuid4()}/roll").status_code == 404  # may, finds nothing
    db.session.get(Membership, (acme.user_id, member.id)).role = Role.VIEWER.value
    db.session.commit()
    assert client.get(f"/keys/{uuid.uuid4()}/roll").status_code == 403


def test_an_organisation_that_requires_two_factor_is_closed_to_members_without_it(
    app, owner, acme, make_user
):
    member = make_user("dev@example.com")
    join(acme, member, Role.DEVELOPER)
    client = as_member(app, member)
    switch(client, acme.user_id)
    acme.require_two_factor = True
    db.session.commit()
    page = client.get("/keys/").get_data(as_text=True)
    assert "Acme asks every member to use two-factor sign-in" in page
    assert 'data-testid="current-account">Personal<' in page
    client.post("/accounts/switch", data={"account": str(acme.user_id)})
    assert 'data-testid="current-account">Personal<' in client.get("/keys/").get_data(as_text=True)
    assert client.get(f"/o/{acme.slug}/members/").status_code == 403


def test_turning_on_the_two_factor_rule_needs_it_yourself(app, owner, acme):
    client = as_member(app, owner)
    answer = client.post(
        f"/o/{acme.slug}/settings",
        data={
            "billing_email": "billing@acme.example",
            "require_two_factor": "y",
            "leaked_key_action": "expire",
        },
        follow_redirects=True,
    )
    assert "Turn on two-factor sign-in yourself first" in answer.get_data(as_text=True)
    db.session.refresh(acme)
    assert acme.require_two_factor is False
    client.post(
        f"/o/{acme.slug}/settings",
        data={"billing_email": "billing@acme.example", "leaked_key_action": "expire"},
    )
    db.session.refresh(acme)
    assert acme.billing_email == "billing@acme.example"
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.settings")
    )
    assert event.details == {"billing_email": "billing@acme.example"}


def test_no_route_reaches_another_organisations_or_your_own_records(app, owner, acme, make_user):
    other = create_organisation(make_user("b@example.com"), "Bravo")
    ids = {}
    for account in (other.account, owner):  # another organisation, and the person's own
        key, _ = create_key(account, "theirs")
        log_id = record_call(
            user_id=account.id,
            api_key_id=key.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"message": "x"},
            output_payload={"echo": "x", "length": 1},
            status="success",
            execution_time_ms=1,
            tokens_used=1,
        )
        ids[account.id] = {"key_id": str(key.id), "log_id": str(log_id)}
    client = as_member(app, owner)
    switch(client, acme.user_id)
    for account_ids in ids.values():
        assert ownership_violations(app, client, account_ids) == []
    with app.test_request_context():
        assert url_for("keys.show", key_id=ids[owner.id]["key_id"])  # the walk built real URLs
    names = db.session.scalars(sa.select(ApiKey.name)).all()
    assert names == ["theirs", "theirs"]


def test_logs_export_usage_and_errors_read_the_open_account(app, owner, acme):
    for account, message in ((owner, "personal call"), (acme.account, "acme call")):
        key, _ = create_key(account, f"{message} key")
        for status in ("success", "error"):
            record_call(
                user_id=account.id,
                api_key_id=key.id,
                tool_name="echo",
                tool_version="v1",
                input_payload={"message": message},
                output_payload={"echo": message, "length": 1} if status == "success" else None,
                status=status,
                error_message=None if status == "success" else f"{message} failed",
                error_code=None if status == "success" else "tool_error",
                execution_time_ms=1,
                tokens_used=1,
            )
    client = as_member(app, owner)
    switch(client, acme.user_id)
    export = client.get("/logs/export.csv").get_data(as_text=True)
    assert "acme call" in export and "personal call" not in export
    logs = client.get("/logs/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "acme call failed" in logs and "personal call failed" not in logs
    errors = client.get("/errors/").get_data(as_text=True)
    assert "acme call failed" in errors and "personal call failed" not in errors
    usage = client.get("/usage/").get_data(as_text=True)
    assert "acme call key" in usage and "personal call key" not in usage


def test_a_viewer_sees_the_keys_without_any_form_or_button_to_change_them(
    app, owner, acme, make_user
):
    key, _ = create_key(acme.account, "Acme production")
    viewer = make_user("viewer@example.com")
    join(acme, viewer, Role.VIEWER)
    client = as_member(app, viewer)
    switch(client, acme.user_id)
    page = client.get("/keys/").get_data(as_text=True)
    assert "Acme production" in page
    assert 'id="create-key"' not in page and 'href="#create-key"' not in page
    for action in ("edit", "roll", "expire"):
        assert f"/keys/{key.id}/{action}" not in page
    assert "As viewer in Acme you see its keys but cannot create" in page
    own_page = client.get(f"/keys/{key.id}").get_data(as_text=True)
    assert f"/keys/{key.id}/roll" not in own_page and f"/keys/{key.id}/expire" not in own_page
    # A developer of the same organisation gets the form and the buttons.
    developer = make_user("dev@example.com")
    join(acme, developer, Role.DEVELOPER)
    client = as_member(app, developer)
    switch(client, acme.user_id)
    page = client.get("/keys/").get_data(as_text=True)
    assert 'id="create-key"' in page and f"/keys/{key.id}/roll" in page
    assert "keys-read-only" not in page


def test_the_settings_choose_what_a_leak_report_does_to_the_organisations_keys(
    app, owner, acme, make_user
):
    client = as_member(app, owner)
    page = client.get(f"/o/{acme.slug}/members/").get_data(as_text=True)
    assert '<option selected value="expire">' in page
    client.post(
        f"/o/{acme.slug}/settings",
        data={"billing_email": acme.billing_email, "leaked_key_action": "alert"},
    )
    assert leaked_key_action(acme.user_id) == "alert"
    assert leaked_key_action(owner.id) == "expire"  # the person's own account is apart
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.settings"))
    assert event.subject_id == acme.user_id and event.details == {"leaked_key_action": "alert"}
    page = client.get(f"/o/{acme.slug}/members/").get_data(as_text=True)
    assert '<option selected value="alert">' in page
    refused = client.post(
        f"/o/{acme.slug}/settings",
        data={"billing_email": acme.billing_email, "leaked_key_action": "ignore"},
        follow_redirects=True,
    )
    assert "Not a valid choice" in refused.get_data(as_text=True)
    assert leaked_key_action(acme.user_id) == "alert"
    developer = make_user()
    join(acme, developer, Role.DEVELOPER)
    forbidden = as_member(app, developer).post(
        f"/o/{acme.slug}/settings",
        data={"billing_email": acme.billing_email, "leaked_key_action": "expire"},
    )
    assert forbidden.status_code == 403
    assert leaked_key_action(acme.user_id) == "alert"
