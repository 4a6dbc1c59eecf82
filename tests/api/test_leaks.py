"""Leak reports (POST /api/v1/leaks) signed with a locally made ECDSA P-256 key pair, as GitHub's
secret scanning signs them: a true positive is expired (or only flagged, by the account's
setting), its owners are emailed (a real SMTP server) and audited; a bad signature, noise and
unknown tokens change nothing; a root key reported is revoked. Every answer is checked against
the OpenAPI document (the `api` client)."""

import base64
import json

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dashboard.alerts.key_events import SYSTEM
from dashboard.alerts.service import save_settings
from dashboard.extensions import db
from dashboard.keys.root import create_root_key
from dashboard.keys.secrets import new_secret
from dashboard.keys.service import create_key, expire_key
from dashboard.models import AlertEvent, ApiKey, AuditEvent, RootKey, WebhookDelivery
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from dashboard.organisations.settings import set_leaked_key_action
from dashboard.webhooks.service import create_endpoint
from tests.api.conftest import error_code
from tests.mail_server import smtp_server  # noqa: F401 (a fixture)
from tests.organisations.conftest import join

SIGNER = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())  # a key we were never told about
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
URL = "https://github.com/someone/project/blob/abc123/config.py"


def pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def app_overrides(smtp_server):  # noqa: F811
    _, port = smtp_server
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "LEAK_REPORT_PUBLIC_KEYS": json.dumps({KEY_ID: pem(SIGNER), "other": "not a key"}),
    }


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


def report_body(*tokens: str, url: str = URL) -> bytes:
    reports = [
        {"token": token, "type": "toolbox_api_key", "url": url, "source": "commit"}
        for token in tokens
    ]
    return json.dumps(reports).encode()


def signature(body: bytes, signer=SIGNER) -> str:
    return base64.b64encode(signer.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def send(api, body: bytes, headers=None):
    if headers is None:
        headers = {
            "Github-Public-Key-Identifier": KEY_ID,
            "Github-Public-Key-Signature": signature(body),
        }
    headers = {"Content-Type": "application/json", **headers}
    return api.request("POST", "/api/v1/leaks", data=body, headers=headers)


def leak_rows() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "key.leaked")))


def test_a_reported_api_key_is_expired_its_owner_emailed_and_audited(api, user, inbox):
    key, secret = create_key(user, "production")
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200

    answer = send(api, report_body(secret))

    assert answer.status_code == 200
    assert answer.get_json() == [
        {"token_raw": secret, "token_type": "toolbox_api_key", "label": "true_positive"}
    ]
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    refused = api.call("echo", {"message": "hi"}, key=secret)
    assert (refused.status_code, error_code(refused)) == (401, "revoked_api_key")
    (row,) = leak_rows()
    assert row.subject_id == user.id and row.actor_id is None
    assert row.details["url"] == URL and row.details["source"] == "commit"
    assert row.details["action"] == "expired" and row.details["key_id"] == str(key.id)
    assert secret not in json.dumps(row.details)
    message = inbox.last_to(user.email)
    assert "production" in message["Subject"]
    text = message.get_content()
    assert URL in text and "We expired it" in text and secret not in text
    alert = db.session.scalar(sa.select(AlertEvent).where(AlertEvent.event_type == "key.leaked"))
    assert alert.user_id == user.id and alert.email_status == "sent"


def test_an_account_that_chose_alert_keeps_its_key_working_and_is_told(api, user, inbox):
    set_leaked_key_action(user, "alert", actor=user)
    _, secret = create_key(user, "ci")

    answer = send(api, report_body(secret))

    assert answer.get_json()[0]["label"] == "true_positive"
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
    assert leak_rows()[0].details["action"] == "flagged"
    assert "It still works" in inbox.last_to(user.email).get_content()


def test_the_email_goes_even_when_alert_emails_are_off(api, user, inbox):
    save_settings(user.id, set(), by_email=False)
    _, secret = create_key(user, "quiet")
    send(api, report_body(secret))
    assert inbox.last_to(user.email)


def test_key_leaked_goes_to_the_webhooks_subscribed_to_it(api, user):
    create_endpoint(user.id, "https://hooks.example.com/toolbox", "", ["key.leaked"])
    create_endpoint(user.id, "https://hooks.example.com/other", "", ["key.expiring"])
    key, secret = create_key(user, "production")
    send(api, report_body(secret))
    (delivery,) = db.session.scalars(sa.select(WebhookDelivery))
    assert delivery.event_type == "key.leaked"
    data = delivery.payload["data"]
    assert data["key_id"] == str(key.id) and data["url"] == URL and data["action"] == "expired"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # unsigned
        {"Github-Public-Key-Identifier": KEY_ID},
        {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": "bm90IGEgc2ln"},
        {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": "%%%"},
        {"Github-Public-Key-Identifier": "unknown", "Github-Public-Key-Signature": "c2ln"},
        {"Github-Public-Key-Identifier": "other", "Github-Public-Key-Signature": "c2ln"},
    ],
)
def test_an_unsigned_or_badly_signed_report_is_refused_and_changes_nothing(
    api, user, inbox, headers
):
    key, secret = create_key(user, "production")
    answer = send(api, report_body(secret), headers)
    assert answer.status_code == 401
    expected = "missing_signature" if len(headers) < 2 else "invalid_signature"
    assert error_code(answer) == expected
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is None
    assert leak_rows() == [] and inbox.messages == []


def test_a_signature_by_another_key_or_of_another_body_is_refused(api, user, inbox):
    _, secret = create_key(user, "production")
    body = report_body(secret)
    by_stranger = {
        "Github-Public-Key-Identifier": KEY_ID,
        "Github-Public-Key-Signature": signature(body, STRANGER),
    }
    of_other_body = {
        "Github-Public-Key-Identifier": KEY_ID,
        "Github-Public-Key-Signature": signature(report_body(new_secret())),
    }
    for headers in (by_stranger, of_other_body):
        answer = send(api, body, headers)
        assert (answer.status_code, error_code(answer)) == (401, "invalid_signature")
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
    assert leak_rows() == [] and inbox.messages == []


def test_noise_and_unknown_tokens_are_false_positives_and_change_nothing(api, user, inbox):
    _, secret = create_key(user, "production")
    noise = ["tk_live_nope", "ghp_" + "a" * 36, "tk_live_" + "a" * 49, new_secret(), ""]
    answer = send(api, report_body(*noise, secret))
    labels = [item["label"] for item in answer.get_json()]
    assert labels == ["false_positive"] * len(noise) + ["true_positive"]
    assert [item["token_raw"] for item in answer.get_json()] == [*noise, secret]
    assert len(leak_rows()) == 1
    assert len(inbox.messages) == 1


def test_a_report_naming_too_many_tokens_is_refused_before_any_is_acted_on(
    api_app, api, user, inbox
):
    api_app.config["LEAK_REPORT_MAX_TOKENS"] = 2
    _, secret = create_key(user, "production")
    refused = send(api, report_body("tk_live_nope", "ghp_x", secret))
    assert (refused.status_code, error_code(refused)) == (413, "too_many_leak_reports")
    assert refused.get_json()["error"]["limit"] == 2
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
    assert leak_rows() == [] and inbox.messages == []
    # At the limit a report is read; the count goes before the shape (a huge batch of
    # anything is refused as too many, without decoding its items).
    assert send(api, report_body("tk_live_nope", secret)).status_code == 200
    assert error_code(send(api, b"[1, 2, 3]")) == "too_many_leak_reports"
    assert error_code(send(api, b"[1, 2]")) == "invalid_parameters"


def test_the_documented_cap_is_the_configured_one(api_app, api):
    api_app.config["LEAK_REPORT_MAX_TOKENS"] = 7
    document = api.get("/api/openapi.json").get_json()
    body = document["paths"]["/api/v1/leaks"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["maxItems"] == 7


def test_a_key_reported_twice_is_audited_twice_and_emailed_once(api, user, inbox):
    _, secret = create_key(user, "production")
    set_leaked_key_action(user, "alert", actor=user)
    send(api, report_body(secret))
    send(api, report_body(secret))
    assert len(leak_rows()) == 2 and len(inbox.messages) == 1


def test_a_reported_root_key_is_revoked_and_the_organisations_owners_told(
    api, user, make_user, inbox
):
    acme = create_organisation(user, "Acme")
    admin, viewer = make_user(), make_user()
    join(acme, admin, Role.ADMIN)
    join(acme, viewer, Role.VIEWER)
    root_key, secret = create_root_key(acme.account, user, "terraform", ["keys:read"])
    assert api.get("/api/v1/keys", key=secret).status_code == 200

    answer = send(api, report_body(secret))

    assert answer.get_json()[0]["label"] == "true_positive"
    db.session.expire_all()
    assert db.session.get(RootKey, root_key.id).revoked_at is not None
    refused = api.get("/api/v1/keys", key=secret)
    assert (refused.status_code, error_code(refused)) == (401, "revoked_api_key")
    assert {message["To"] for message in inbox.messages} == {user.email, admin.email}
    assert "root key terraform" in inbox.last_to(admin.email)["Subject"]
    (row,) = leak_rows()
    assert row.subject_id == acme.user_id and row.details["key_kind"] == "root"


def test_an_already_expired_key_is_a_true_positive_without_email(api, user, inbox):
    key, secret = create_key(user, "old")
    expire_key(key, actor=SYSTEM)
    assert send(api, report_body(secret)).get_json()[0]["label"] == "true_positive"
    assert leak_rows()[0].details["action"] == "already_stopped"
    assert inbox.messages == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"token": "x"}', 422, "invalid_parameters"),
        (b'[{"type": "x"}]', 422, "invalid_parameters"),
        (b"not json", 400, "invalid_json"),
    ],
)
def test_a_signed_body_that_is_no_report_is_refused(api, body, status, code):
    answer = send(api, body)
    assert (answer.status_code, error_code(answer)) == (status, code)
