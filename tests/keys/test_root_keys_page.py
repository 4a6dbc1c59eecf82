"""The Root keys page: made by owners and admins, shown once, revoked at once; bad input is a
form error."""

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.root import SCOPES, find_root_key
from dashboard.models import AuditEvent, RootKey
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from tests.conftest import AuthActions
from tests.organisations.conftest import join


def test_a_root_key_is_shown_once_and_then_revoked(client, logged_in):
    assert 'href="/keys/root/"' in client.get("/keys/").get_data(as_text=True)
    empty = client.get("/keys/root/").get_data(as_text=True)
    assert 'data-testid="root-keys-empty"' in empty
    made = client.post(
        "/keys/root/",
        # As a browser sends the form: the optional fields empty.
        data={
            "name": "Terraform",
            "scopes": ["keys:read", "keys:write"],
            "expires_on": "",
            "allowed_ips": "",
        },
        follow_redirects=True,
    )
    page = made.get_data(as_text=True)
    secret = page.split('data-testid="new-root-secret"')[1].split("<code")[1].split(">")[1]
    secret = secret.split("<")[0]
    assert secret.startswith("tk_root_")
    root_key = find_root_key(secret)
    assert root_key.scopes == ["keys:read", "keys:write"] and root_key.account_id == logged_in.id
    assert secret not in client.get("/keys/root/").get_data(as_text=True)  # once
    client.post(f"/keys/root/{root_key.id}/revoke")
    db.session.expire_all()
    assert db.session.get(RootKey, root_key.id).revoked_at is not None
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"root_key.create", "root_key.revoke"} <= actions


def test_bad_input_is_a_form_error_and_makes_nothing(client, logged_in):
    for data, message in [
        ({"name": "", "scopes": ["keys:read"]}, "Give the root key a name."),
        ({"name": "x"}, "Choose at least one scope."),
        ({"name": "x", "scopes": ["keys:read"], "allowed_ips": "not-an-ip"}, "not-an-ip"),
        ({"name": "x", "scopes": ["keys:read"], "expires_on": "2001-01-01"}, "in the future"),
        ({"name": "x", "scopes": ["root:everything"]}, "is not a valid choice"),
    ]:
        answer = client.post("/keys/root/", data=data)
        assert answer.status_code == 422, data
        assert message in answer.get_data(as_text=True), data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RootKey)) == 0


def test_only_owners_and_admins_of_an_organisation_manage_its_root_keys(app, make_user):
    owner, developer = make_user(), make_user()
    organisation = create_organisation(owner, "Acme")
    join(organisation, developer, Role.DEVELOPER)
    client = app.test_client()
    AuthActions(client).login(developer)
    client.post("/accounts/switch", data={"account": str(organisation.user_id)})
    assert 'href="/keys/root/"' not in client.get("/keys/").get_data(as_text=True)
    assert client.get("/keys/root/").status_code == 403
    answer = client.post("/keys/root/", data={"name": "x", "scopes": ["keys:read"]})
    assert answer.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RootKey)) == 0


def test_the_form_offers_every_scope_and_makes_a_webhooks_root_key(client, logged_in):
    page = client.get("/keys/root/").get_data(as_text=True)
    for scope in SCOPES:
        assert f'value="{scope}"' in page, scope
    assert 'value="webhooks:write"' in page and "webhooks:read: List and read webhook" in page
    client.post(
        "/keys/root/", data={"name": "hooks", "scopes": ["webhooks:read", "webhooks:write"]}
    )
    made = db.session.scalar(sa.select(RootKey).where(RootKey.name == "hooks"))
    assert made.scopes == ["webhooks:read", "webhooks:write"]
