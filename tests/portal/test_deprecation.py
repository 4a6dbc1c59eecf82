"""Deprecated tool versions: their calls carry Deprecation, Sunset and Link (RFC 9745, RFC 8594),
a retired one answers 410, and the accounts that called one are told once by email and alert."""

from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import AlertEvent, DeprecationNotice, Tool, ToolLog
from dashboard.portal.notices import send_deprecation_notices
from dashboard.tools import registry
from dashboard.tools.sync import sync_tools
from dashboard.tools.tool import ToolVersion, object_schema
from tests.api.conftest import ApiClient, error_code
from tests.mail_server import smtp_server  # noqa: F401 (a fixture)

TODAY = datetime.now(UTC).date()


def relic(version: str, **life) -> ToolVersion:
    return ToolVersion(
        name="relic",
        version=version,
        title="Relic",
        description="Says which version ran.",
        input_schema=object_schema({"n": {"type": "integer"}}, required=["n"]),
        output_schema=object_schema({"version": {"type": "string"}}, required=["version"]),
        example_input={"n": 1},
        run=lambda payload, version=version: {"version": version},
        released_on=date(2026, 1, 1),
        **life,
    )


# v1 retired a week ago; v2 deprecated with no sunset date; v3 current.
RELICS = [
    relic("v1", deprecated_on=TODAY - timedelta(days=60), sunset_on=TODAY - timedelta(days=7)),
    relic("v2", deprecated_on=TODAY - timedelta(days=7), replacement="v3"),
    relic("v3"),
]


@pytest.fixture(autouse=True)
def relics():
    for tool in RELICS:
        registry.register(tool)
    yield
    registry.TOOLS.pop("relic", None)


@pytest.fixture
def app_overrides(smtp_server):  # noqa: F811
    _, port = smtp_server
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "PUBLIC_URL": "https://tools.example"}


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


@pytest.fixture
def api(client, app):
    sync_tools(db.session, Tool)
    db.session.commit()
    return ApiClient(client)


@pytest.fixture
def secret(make_user):
    return create_key(make_user(plan="pro"), "test key", rate_limit_per_minute=1000)[1]


def test_calls_to_a_deprecated_version_carry_deprecation_sunset_and_link(api, secret):
    answer = api.call("sentiment", {"text": "Fine."}, key=secret, version="v1")
    assert answer.status_code == 200
    deprecated_on = datetime(2026, 12, 7, tzinfo=UTC)
    assert answer.headers["Deprecation"] == f"@{int(deprecated_on.timestamp())}"
    sunset = parsedate_to_datetime(answer.headers["Sunset"])
    assert sunset == datetime(2027, 12, 31, tzinfo=UTC)
    assert answer.headers["Sunset"].endswith(" GMT")
    assert answer.headers["Link"] == '<https://tools.example/docs/changelog>; rel="deprecation"'
    # Its refusals say so too; the version that replaces it says nothing.
    refused = api.call("sentiment", {"text": ""}, key=secret, version="v1")
    assert (refused.status_code, error_code(refused)) == (422, "invalid_input")
    assert "Deprecation" in refused.headers and "Sunset" in refused.headers
    current = api.call("sentiment", {"text": "Fine."}, key=secret, version="v2")
    assert current.status_code == 200
    assert not {"Deprecation", "Sunset", "Link"} & set(current.headers.keys())


def test_a_version_without_a_sunset_date_has_no_sunset_header(api, secret):
    answer = api.call("relic", {"n": 1}, key=secret, version="v2")
    assert answer.status_code == 200
    assert answer.headers["Deprecation"].startswith("@")
    assert "Sunset" not in answer.headers
    assert 'rel="deprecation"' in answer.headers["Link"]


def test_a_retired_version_answers_410_and_is_not_logged(api, secret):
    answer = api.call("relic", {"n": 1}, key=secret, version="v1")
    assert (answer.status_code, error_code(answer)) == (410, "tool_version_retired")
    assert "was retired on" in answer.get_json()["error"]["message"]
    assert "Sunset" in answer.headers and "Deprecation" in answer.headers
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog)) == 0
    assert api.call("relic", {"n": 1}, key=secret).get_json()["output"] == {"version": "v3"}


def test_the_document_marks_deprecated_operations_and_their_headers(api):
    document = api.get("/api/openapi.json").get_json()
    v1 = document["paths"]["/api/v1/tools/sentiment/v1"]["post"]
    assert v1["deprecated"] is True
    assert "2027-12-31" in v1["description"]
    assert set(v1["responses"]["200"]["headers"]) >= {"Deprecation", "Sunset", "Link"}
    assert "410" in v1["responses"]
    v2 = document["paths"]["/api/v1/tools/sentiment/v2"]["post"]
    assert "deprecated" not in v2 and "410" not in v2["responses"]
    assert "Deprecation" not in v2["responses"]["200"]["headers"]
    assert set(document["components"]["headers"]) >= {"Deprecation", "Sunset", "Link"}


def test_a_sunset_needs_a_deprecation_first():
    with pytest.raises(ValueError, match="deprecated first"):
        relic("v9", sunset_on=TODAY)
    with pytest.raises(ValueError, match="before deprecated_on"):
        relic("v9", deprecated_on=TODAY, sunset_on=TODAY - timedelta(days=1))


def test_callers_of_a_deprecated_version_are_told_once(api, make_user, inbox):
    caller = make_user("caller@example.com", plan="pro")
    caller_key = create_key(caller, "production", rate_limit_per_minute=1000)[1]
    bystander = make_user("bystander@example.com", plan="pro")
    bystander_key = create_key(bystander, "production", rate_limit_per_minute=1000)[1]
    for _ in range(3):
        answer = api.call("sentiment", {"text": "Fine."}, key=caller_key, version="v1")
        assert answer.status_code == 200
    assert api.call("sentiment", {"text": "Fine."}, key=bystander_key).status_code == 200

    assert send_deprecation_notices() == 1
    [message] = inbox.messages
    assert message["To"] == "caller@example.com"
    assert message["Subject"] == "sentiment v1 is deprecated"
    body = message.get_content()
    assert "2027-12-31" in body and "sentiment v2" in body
    assert "https://tools.example/docs/changelog" in body
    alert = db.session.scalars(sa.select(AlertEvent)).one()
    assert (alert.user_id, alert.event_type) == (caller.id, "tool.deprecated")
    assert alert.email_status == "sent"

    # More calls, the job again: nothing more is sent.
    assert api.call("sentiment", {"text": "Fine."}, key=caller_key, version="v1").status_code == 200
    assert send_deprecation_notices() == 0
    assert len(inbox.messages) == 1
    notices = db.session.scalars(sa.select(DeprecationNotice)).all()
    assert [(n.user_id, n.tool_name, n.tool_version) for n in notices] == [
        (caller.id, "sentiment", "v1")
    ]


def test_calls_older_than_30_days_bring_no_notice(api, make_user, inbox):
    caller = make_user("old@example.com", plan="pro")
    key = create_key(caller, "production", rate_limit_per_minute=1000)[1]
    assert api.call("sentiment", {"text": "Fine."}, key=key, version="v1").status_code == 200
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=31)
    assert send_deprecation_notices(now=later) == 0
    assert inbox.messages == []


def test_the_catalog_file_deprecates_an_upstream_version(app, tmp_path):
    from dashboard.tools.catalog_file import CatalogFileError, read_catalog, sync_catalog
    from dashboard.tools.served import load_active_tools

    table = """
[[tool]]
name = "vat"
version = "v1"
url = "http://127.0.0.1:8600/vat"
input_schema = '{"type": "object"}'
output_schema = '{"type": "object"}'
released_on = 2026-01-05
deprecated_on = 2026-11-01
sunset_on = "2027-06-30"
replacement = "v2"
"""
    path = tmp_path / "tools.toml"
    path.write_text(table)
    sync_catalog(db.session, path)
    db.session.commit()
    vat = load_active_tools().versions["vat"]["v1"]
    assert (vat.released_on, vat.deprecated_on, vat.sunset_on, vat.replacement) == (
        date(2026, 1, 5),
        date(2026, 11, 1),
        date(2027, 6, 30),
        "v2",
    )
    assert dict(vat.deprecation_headers)["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"

    path.write_text(table.replace("= 2026-11-01", "= 2026-11-01T10:00:00"))
    with pytest.raises(CatalogFileError, match="deprecated_on: must be a date"):
        read_catalog(path)


def test_the_logged_in_tool_page_says_a_version_is_deprecated(client, logged_in, api):
    page = client.get("/tools/sentiment/v1").get_data(as_text=True)
    assert 'data-testid="deprecated"' in page
    assert "2027-12-31" in page and 'href="/tools/sentiment/v2"' in page
    assert "/docs/changelog#sentiment-v1-deprecated" in page
    newest = client.get("/tools/sentiment/v2").get_data(as_text=True)
    assert 'data-testid="deprecated"' not in newest


def test_the_public_tool_page_says_a_version_is_deprecated(client):
    page = client.get("/docs/tools/sentiment/v1").get_data(as_text=True)
    notice = page.split('data-testid="deprecated"')[1].split("</div>")[0]
    assert "2027-12-31" in notice and 'href="/docs/tools/sentiment/v2"' in notice
    assert "/docs/changelog#sentiment-v1-deprecated" in notice
    assert "v1 (deprecated)" in page  # in the version switch
    newest = client.get("/docs/tools/sentiment/v2").get_data(as_text=True)
    assert 'data-testid="deprecated"' not in newest
