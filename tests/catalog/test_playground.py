"""The playground on each tool's page: the form generated from the input schema, runs through
the real API path (metered, logged as playground), the key choice, errors, impersonation."""

import html
import re

import pytest
import sqlalchemy as sa

from dashboard.alerts.service import check_expiring_keys
from dashboard.extensions import db
from dashboard.keys.secrets import has_valid_checksum
from dashboard.keys.service import create_key, keys_of, playground_key
from dashboard.models import ApiKey, Tool, ToolLog, UsageDaily, UsageSummary, utcnow
from dashboard.plans import plan_named
from dashboard.tools.registry import all_tools
from dashboard.tools.sync import sync_tools

BUILTIN = [tool for tool in all_tools() if tool.kind == "builtin"]


@pytest.fixture(autouse=True)
def synced(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def run(client, tool="echo", version="v1", htmx=False, **data):
    """Post the playground form of a tool version (action run unless given)."""
    headers = {"HX-Request": "true"} if htmx else {}
    data.setdefault("action", "run")
    return client.post(f"/tools/{tool}/{version}/playground", data=data, headers=headers)


def paste(client, secret: str):
    """Run echo with a pasted key secret."""
    return run(client, key_choice="pasted", key_secret=secret, in_message="hi")


def logs() -> list[ToolLog]:
    return list(db.session.scalars(sa.select(ToolLog).order_by(ToolLog.created_at)))


def playground_keys(user) -> list[ApiKey]:
    return [key for key in keys_of(user) if key.is_playground]


def field_html(page: str, name: str) -> str:
    """The markup of the input, textarea or select named `name`."""
    match = re.search(rf'<(input|textarea|select)\b[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert match, f"no field {name}"
    return match.group(0)


@pytest.mark.parametrize("tool", BUILTIN, ids=[f"{t.name}-{t.version}" for t in BUILTIN])
def test_each_builtin_tool_gets_a_form_from_its_schema(client, logged_in, tool):
    page = client.get(f"/tools/{tool.name}/{tool.version}").get_data(as_text=True)
    assert 'id="playground"' in page
    required = set(tool.input_schema.get("required", []))
    for name, spec in tool.input_schema["properties"].items():
        markup = field_html(page, f"in_{name}")
        assert f'<label class="form-label" for="in_{name}">' in page or 'type="checkbox"' in markup
        label = f"{name} (required)" if name in required else name
        assert f">{label}</label>" in page
        assert ("required" in markup) == (name in required)
        assert f'aria-describedby="in_{name}-help"' in markup
        if spec.get("description"):
            help_text = re.search(rf'id="in_{name}-help"[^>]*>([^<]*)<', page).group(1)
            assert html.unescape(help_text).startswith(spec["description"])
        kind = spec.get("type")
        if "enum" in spec:
            assert markup.startswith("<select")
        elif kind in ("integer", "number"):
            assert 'type="number"' in markup
            if "minimum" in spec:
                assert f'min="{spec["minimum"]}"' in markup
        elif kind == "string":
            assert markup.startswith(("<textarea", "<input"))
        else:  # json_validate's `document` (any value) and `schema` (object or boolean)
            assert markup.startswith("<textarea")
    # The form starts from the tool's example, so Run works at once.
    first = next(iter(tool.example_input))
    assert html.escape(str(tool.example_input[first])[:20]) in page or "{" in page


def test_widgets_follow_the_schema(client, logged_in):
    page = client.get("/tools/keywords/v1").get_data(as_text=True)
    assert field_html(page, "in_text").startswith("<textarea")  # maxLength 20,000
    number = field_html(page, "in_max_keywords")
    assert 'type="number"' in number and 'min="1"' in number and 'max="50"' in number
    language = field_html(page, "in_language")
    assert language.startswith("<input") and 'type="text"' in language
    assert "pattern ^[a-z]{2}$" in page  # the pattern is told in the help text
    page = client.get("/tools/json_validate/v1").get_data(as_text=True)
    assert "Any JSON value, e.g. an object in braces." in page
    assert "&#34;minimum&#34;: 0" in page  # the example schema, as indented JSON


def test_a_run_goes_through_the_api_and_is_metered_and_logged_as_playground(
    client, logged_in, user
):
    response = run(client, in_message="Hello from the playground")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "200 OK" in page
    assert "&#34;echo&#34;: &#34;Hello from the playground&#34;" in page
    for header in ("Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "RateLimit"):
        assert f"<dt>{header}</dt>" in page
    assert "Authorization: Bearer $TOOLBOX_API_KEY" in page  # the secret is not shown
    (log,) = logs()
    assert (log.source, log.status, log.http_status) == ("playground", "success", 200)
    assert log.user_id == user.id
    assert log.input_payload == {"message": "Hello from the playground"}
    assert f'href="/logs/{log.id}"' in page
    (key,) = playground_keys(user)
    assert log.api_key_id == key.id
    assert key.prefix in page
    # A test-mode key: in the daily rollup (its logs and charts), never billed.
    assert key.is_test and key.prefix.startswith("tk_test_")
    assert db.session.scalars(sa.select(UsageSummary)).all() == []
    assert db.session.scalar(sa.select(sa.func.sum(UsageDaily.calls))) == 1

    run(client, in_message="again")
    assert len(logs()) == 2
    assert len(playground_keys(user)) == 1  # the same short-lived key, used again


def test_the_playground_key_is_short_lived_unlisted_and_outside_the_key_cap(
    app, client, logged_in, user
):
    for number in range(3):  # the free plan's cap
        create_key(user, f"key {number}")
    assert run(client, in_message="hi").status_code == 200
    (key,) = playground_keys(user)
    minutes = (key.expires_at - key.created_at).total_seconds() / 60
    assert minutes == app.config["PLAYGROUND_KEY_MINUTES"] == 15
    page = client.get("/keys/").get_data(as_text=True)
    assert "3 of 3 working keys" in page
    assert 'data-testid="playground-key-note"' in page
    assert page.count(key.prefix) == 1  # in the note, not as a row
    # It cannot be edited or rolled (a roll would make an ordinary key outside the cap) ...
    assert client.get(f"/keys/{key.id}/edit").status_code == 404
    assert client.post(f"/keys/{key.id}/roll", data={"grace": "none"}).status_code == 404
    assert client.get(f"/keys/{key.id}").status_code == 200  # ... but it has its page
    assert check_expiring_keys() == 0  # and no "your key expires soon" alert


def test_an_expired_playground_key_is_replaced(client, logged_in, user):
    run(client, in_message="hi")
    (old,) = playground_keys(user)
    old.expires_at = utcnow()
    db.session.commit()
    assert run(client, in_message="hi").status_code == 200
    assert len(playground_keys(user)) == 2
    assert logs()[-1].api_key_id != old.id


def test_a_word_in_a_number_field_is_a_form_error_and_nothing_is_called(client, logged_in):
    response = run(client, "keywords", in_text="Some text", in_max_keywords="lots")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="in_max_keywords-error"' in page
    assert "Not a valid integer value." in page
    assert 'aria-invalid="true"' in field_html(page, "in_max_keywords")
    assert logs() == []


def test_json_that_does_not_parse_is_a_form_error(client, logged_in):
    response = run(client, "json_validate", in_document="{oops", in_schema="true")
    assert response.status_code == 422
    assert "This is not valid JSON" in response.get_data(as_text=True)
    assert logs() == []


def test_input_the_schema_refuses_shows_the_apis_422_at_its_field(client, logged_in):
    response = run(client, "keywords", in_text="", in_max_keywords="99")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "422 UNPROCESSABLE ENTITY" in page
    assert "invalid_input" in page
    assert "This field is required. (from the API)" in page  # `text` was left empty
    assert "99 is greater than the maximum of 50 (from the API)" in page
    (log,) = logs()
    assert (log.source, log.error_code, len(log.errors)) == ("playground", "invalid_input", 2)


def test_edit_as_json_and_back(client, logged_in):
    response = run(client, "keywords", action="json", in_text="Cats and dogs", in_max_keywords="3")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    raw = html.unescape(re.search(r'<textarea[^>]*name="raw"[^>]*>(.*?)</textarea>', page, re.S)[1])
    assert raw.strip() == '{\n  "text": "Cats and dogs",\n  "max_keywords": 3\n}'
    assert 'value="json"' in field_html(page, "mode")
    raw = '{"text": "Owls", "language": "de"}'
    back = run(client, "keywords", action="form", mode="json", raw=raw)
    page = back.get_data(as_text=True)
    assert "Owls</textarea>" in page
    assert 'value="de"' in field_html(page, "in_language")
    assert logs() == []


def test_json_nested_too_deep_is_a_form_error(client, logged_in):
    deep = "[" * 100_000 + "]" * 100_000
    response = run(client, "json_validate", in_document=deep, in_schema="true")
    assert response.status_code == 422 and "This is not valid JSON" in response.get_data(True)
    response = run(client, "json_validate", action="form", mode="json", raw=deep)
    assert response.status_code == 422 and "This is not valid JSON" in response.get_data(True)
    assert logs() == []


def test_json_that_does_not_fit_the_form_stays_json(client, logged_in):
    response = run(client, "keywords", action="form", mode="json", raw='{"text": 5, "x": 1}')
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "does not fit the form" in page and "“x” is not a field" in page
    assert 'value="json"' in field_html(page, "mode")


def test_raw_json_is_sent_as_written(client, logged_in):
    response = run(client, mode="json", raw='{"message": "raw"')
    page = response.get_data(as_text=True)
    assert "400 BAD REQUEST" in page and "invalid_json" in page
    (log,) = logs()
    assert (log.error_code, log.source) == ("invalid_json", "playground")


def test_a_pasted_key_of_ones_own_is_used_and_shown_in_the_curl(client, logged_in, user):
    key, secret = create_key(user, "Mine")
    page = paste(client, secret).get_data(as_text=True)
    assert "200 OK" in page
    curl = re.search(r'<code id="playground-curl">(.*?)</code>', page, re.S)[1]
    assert f"'Authorization: Bearer {secret}'" in html.unescape(curl)
    (log,) = logs()
    assert (log.api_key_id, log.source) == (key.id, "playground")
    assert playground_keys(user) == []


def test_another_users_key_cannot_be_used(client, logged_in, make_user):
    other = make_user()
    _, secret = create_key(other, "Theirs")
    response = paste(client, secret)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That is not the secret of one of your keys." in page
    assert run(client, key_choice="pasted", key_secret="tk_live_made_up").status_code == 422
    assert run(client, key_choice="pasted", key_secret="").status_code == 422
    assert run(client, key_choice="someone-elses", in_message="hi").status_code == 422
    assert logs() == []


def test_a_refusal_shows_its_status_and_retry_after(client, logged_in, user):
    _, secret = create_key(user, "Slow", rate_limit_per_minute=1)
    assert "200 OK" in paste(client, secret).get_data(as_text=True)
    page = paste(client, secret).get_data(as_text=True)
    assert "429 TOO MANY REQUESTS" in page and "rate_limited" in page
    assert "<dt>Retry-After</dt>" in page


def test_htmx_gets_the_section_alone(client, logged_in):
    response = run(client, htmx=True, in_message="hi")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in page and 'id="playground"' in page and "200 OK" in page
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"
    errors = run(client, "keywords", htmx=True, in_max_keywords="x")
    assert errors.status_code == 200 and "Not a valid integer value." in errors.get_data(True)


def test_a_call_over_http_cannot_claim_to_be_the_playground(client, user):
    _, secret = create_key(user, "Program")
    response = client.post(
        "/api/v1/tools/echo",
        json={"message": "hi"},
        headers={"Authorization": f"Bearer {secret}", "toolbox.call_source": "playground"},
    )
    assert response.status_code == 200
    assert logs()[0].source is None


def test_support_viewing_as_the_customer_cannot_run_it(client, auth, make_user):
    from tests.support.conftest import start_viewing

    support, customer = make_user(role="support"), make_user()
    auth.login(support)
    assert start_viewing(client, customer).status_code == 303
    page = client.get("/tools/echo/v1").get_data(as_text=True)
    assert 'data-testid="playground-refused"' in page
    assert run(client).status_code == 403
    assert logs() == [] and playground_keys(customer) == []


def test_the_playground_needs_a_login(client):
    assert run(client).status_code == 302


@pytest.mark.parametrize("url", ["/tools/nope/v1/playground", "/tools/echo/v9/playground"])
def test_unknown_tool_or_version_is_404(client, logged_in, url):
    assert client.post(url, data={"action": "run"}).status_code == 404


def test_playground_key_reuse_needs_the_same_secret_key(app, user):
    key, secret = playground_key(user)
    assert playground_key(user) == (key, secret)
    app.config["SECRET_KEY"] = "another-secret-key"
    new_key, new_secret = playground_key(user)
    assert new_key.id != key.id and new_secret != secret


def test_playground_calls_never_count_against_the_quota(client, logged_in, user):
    month = utcnow().strftime("%Y-%m")
    quota = plan_named(user.subscription_plan).monthly_calls
    db.session.add(UsageSummary(user_id=user.id, month_year=month, total_calls=quota))
    db.session.commit()
    _, secret = create_key(user, "Production")
    for message in ("one", "two"):
        assert "200 OK" in run(client, in_message=message).get_data(as_text=True)
    refused = paste(client, secret).get_data(as_text=True)  # a live key is refused
    assert "429 TOO MANY REQUESTS" in refused and "quota_exceeded" in refused
    db.session.expire_all()
    (summary,) = db.session.scalars(sa.select(UsageSummary))
    assert summary.total_calls == quota
    assert [log.source for log in logs()] == ["playground", "playground"]  # still logged


def test_a_playground_key_made_before_test_mode_is_not_used_again(app, user):
    key, _ = playground_key(user)
    key.is_test = False  # as playground keys were made before they became test keys
    db.session.commit()
    new_key, new_secret = playground_key(user)
    assert new_key.id != key.id and new_key.is_test
    assert new_secret.startswith("tk_test_") and has_valid_checksum(new_secret)
    assert new_key.rate_limit_per_minute == app.config["TEST_KEY_RATE_LIMIT_PER_MINUTE"]


def test_the_logs_filter_calls_by_where_they_were_made(client, logged_in, user):
    _, secret = create_key(user, "Program")
    api_call = client.post(
        "/api/v1/tools/echo", json={"message": "hi"}, headers={"Authorization": f"Bearer {secret}"}
    )
    run(client, in_message="from the playground")
    playground_log = next(log for log in logs() if log.source == "playground")
    api_id = api_call.get_json()["request_id"]
    page = client.get("/logs/?source=playground").get_data(as_text=True)
    assert str(playground_log.id) in page and api_id not in page
    assert "playground</span>" in page  # the badge
    page = client.get("/logs/?source=api").get_data(as_text=True)
    assert api_id in page and str(playground_log.id) not in page
    page = client.get("/logs/?source=elsewhere").get_data(as_text=True)
    assert "The source must be api or playground; it was ignored." in page
    csv = client.get("/logs/export.csv?source=playground").get_data(as_text=True)
    assert csv.count("\n") == 2 and csv.rstrip().endswith("playground")
