"""Hostile input: whatever arrives, the API answers a documented answer (never a 5xx), and the
pages answer a form error or a friendly 413 (never a 500). On both databases."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool
from dashboard.tools.registry import all_tools
from dashboard.tools.sync import sync_tools
from tests.api.conftest import ApiClient, error_code
from tests.conftest import PASSWORD

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TOOL_NAMES = [*sorted({tool.name for tool in all_tools()}), "nope"]

# What a header can carry: printable Latin-1 and tabs (servers refuse newlines before we see them).
header_text = st.text(
    alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]) | st.just("\t"),
    max_size=200,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity included: the API must refuse them cleanly
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]) | st.just("\x00")),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@pytest.fixture
def api(client) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def secret(app, make_user):
    """A key with room for every example (pro plan, high rate limit)."""
    sync_tools(db.session, Tool)
    db.session.commit()
    return create_key(make_user(plan="pro"), "fuzz", rate_limit_per_minute=100_000)[1]


def assert_documented(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


@FUZZ
@given(tool=st.sampled_from(TOOL_NAMES), value=json_values)
def test_any_json_value_as_input(api, secret, tool, value):
    body = json.dumps(value).encode()  # NaN/Infinity come out as the bare words
    response = api.call(tool, key=secret, data=body, headers={"Content-Type": "application/json"})
    assert_documented(response)


@FUZZ
@given(tool=st.sampled_from(TOOL_NAMES), value=st.dictionaries(st.text(max_size=10), json_values))
def test_any_json_object_as_input(api, secret, tool, value):
    response = api.call(tool, value, key=secret)
    assert_documented(response)
    if response.status_code == 200:
        assert response.get_json()["tool"] == tool


@FUZZ
@given(body=st.binary(max_size=2000), content_type=header_text)
def test_any_bytes_as_body_with_any_content_type(api, secret, body, content_type):
    response = api.call("echo", key=secret, data=body, headers={"Content-Type": content_type})
    assert_documented(response)
    assert response.status_code in (200, 400, 422)


@FUZZ
@given(
    authorization=st.none() | header_text | header_text.map(lambda text: "Bearer " + text),
    api_key=st.none() | header_text,
    content_type=st.none() | header_text,
)
def test_any_credential_headers(api, secret, authorization, api_key, content_type):
    headers = {
        name: value
        for name, value in (
            ("Authorization", authorization),
            ("X-API-Key", api_key),
            ("Content-Type", content_type),
        )
        if value is not None
    }
    response = api.call("echo", data=b'{"message": "hi"}', headers=headers)
    assert_documented(response)
    assert response.status_code == 401  # none of these is a key
    assert error_code(response) in ("missing_api_key", "invalid_api_key")


@FUZZ
@given(month=st.text(max_size=30), name=st.text(min_size=1, max_size=30))
def test_any_month_and_tool_name_in_the_url(api, secret, month, name):
    usage = api.get("/api/v1/usage", key=secret, query_string={"month": month})
    assert usage.status_code in (200, 400)
    tool_path = "/api/v1/tools/" + name.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    call = api.client.post(
        tool_path, json={"message": "hi"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert call.status_code in (200, 404), call.get_data(as_text=True)[:300]


def nested(depth: int, open_: bytes, close: bytes) -> bytes:
    return b'{"message": "x", "deep": ' + open_ * depth + b"1" + close * depth + b"}"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b'{"message": ' + b"1" * 5001 + b"}", 400, "not valid JSON"),  # 10**5000
        (b'{"message": "x", "n": 1e400}', 400, "too large"),
        (b'{"message": "x", "n": -1e400}', 400, "too large"),
        (nested(10_000, b"[", b"]"), 400, "nested"),
        (nested(10_000, b'{"a":', b"}"), 400, "nested"),
        (b'{"message": "\xc3\x28"}', 400, "UTF-8"),  # invalid continuation byte
        (b'{"message": "\xc0\xaf"}', 400, "UTF-8"),  # overlong encoding of "/"
        (b'{"message": "\xed\xa0\x80"}', 400, "UTF-8"),  # a surrogate encoded as UTF-8
        (b'{"message": "a\x00b"}', 400, "not valid JSON"),  # a raw NUL in a string
        (b"\x00" * 100, 400, "not valid JSON"),
        (b"\xef\xbb\xbf" + b'{"message": "bom"}', 400, "not valid JSON"),
    ],
)
def test_hostile_payloads_are_refused_as_invalid_json(api, secret, body, status, words):
    response = api.call("echo", key=secret, data=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, error_code(response)) == (status, "invalid_json")
    assert words in response.get_json()["error"]["message"]


def test_numbers_python_can_still_read_are_stored_and_answered(api, secret):
    huge = 10**4000
    body = {"document": huge, "schema": {"type": "string"}}
    response = api.call("json_validate", body, key=secret)
    assert response.status_code == 200
    assert response.get_json()["output"]["valid"] is False
    tiny = api.call("echo", key=secret, data=b'{"message": "x", "n": 1e-400}')
    assert (tiny.status_code, error_code(tiny)) == (422, "invalid_input")


@pytest.mark.parametrize("chunked", [False, True])
def test_body_just_under_and_over_the_size_limit(app, api, secret, chunked):
    limit = app.config["API_MAX_BODY_BYTES"]
    frame = b'{"message": ""}'

    def send(size: int):
        body = frame[:-2] + b"x" * (size - len(frame)) + frame[-2:]
        assert len(body) == size
        extra = {}
        if chunked:
            extra = {"environ_overrides": {"wsgi.input_terminated": True}}
            headers = {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}
        else:
            headers = {"Content-Type": "application/json"}
        return api.call("echo", key=secret, data=body, headers=headers, **extra)

    at_limit = send(limit)
    assert (at_limit.status_code, error_code(at_limit)) == (422, "invalid_input")  # read, parsed
    over = send(limit + 1)
    assert (over.status_code, error_code(over)) == (413, "payload_too_large")


def test_ten_megabytes_to_the_api_is_413(api, secret):
    response = api.call("echo", key=secret, data=b"x" * 10_000_000)
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")


# Forms: limits are 254 characters for an email address and 128 for a password.
EMAIL_254 = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
EMAIL_255 = "a" + EMAIL_254
PASSWORD_128 = "p" * 128
PASSWORD_129 = "p" * 129


def test_sign_up_at_the_limits_works(client):
    assert len(EMAIL_254) == 254
    response = client.post("/signup", data={"email": EMAIL_254, "password": PASSWORD_128})
    assert response.status_code == 303
    client.post("/logout")
    again = client.post("/login", data={"email": EMAIL_254, "password": PASSWORD_128})
    assert again.status_code == 303


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        (EMAIL_255, PASSWORD, "at most 254 characters"),
        ("someone@example.com", PASSWORD_129, "between 10 and 128 characters"),
    ],
)
def test_sign_up_past_the_limits_is_a_form_error(client, email, password, message):
    response = client.post("/signup", data={"email": email, "password": password})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        (EMAIL_255, PASSWORD, "at most 254 characters"),
        ("someone@example.com", PASSWORD_129, "That password is too long"),
    ],
)
def test_log_in_past_the_limits_is_a_form_error(client, email, password, message):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_account_forms_past_the_limits_are_form_errors(client, logged_in):
    password = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD_129,
            "new_password": PASSWORD_129,
            "confirm_password": PASSWORD_129,
        },
    )
    assert password.status_code == 422
    assert "between 10 and 128 characters" in password.get_data(as_text=True)
    delete = client.post("/account/delete", data={"confirm_email": EMAIL_255, "password": "x"})
    assert delete.status_code == 422
    assert client.get("/account/").status_code == 200  # still there


@pytest.mark.parametrize("backend", ["sqlite"])  # refused before any database work
@pytest.mark.parametrize(
    ("url", "encoding"),
    [
        ("/signup", "urlencoded"),
        ("/login", "urlencoded"),
        ("/account/password", "urlencoded"),
        ("/account/delete", "urlencoded"),
        ("/login", "multipart"),
        ("/account/password", "multipart"),
    ],
)
def test_ten_megabyte_forms_get_the_413_page(client, logged_in, url, encoding):
    if url in ("/signup", "/login"):
        client.post("/logout")
    if encoding == "urlencoded":
        response = client.post(url, data={"email": "x" * 10_000_000, "password": "y"})
    else:
        response = client.post(
            url, data={"email": "x" * 10_000_000}, content_type="multipart/form-data"
        )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "<html" in page and "larger than we accept" in page


form_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300)


@pytest.mark.parametrize("app_overrides", [{"RATELIMIT_ENABLED": False}])
@FUZZ
@given(email=form_text, password=form_text)
def test_any_text_in_the_sign_up_and_log_in_forms(client, user, email, password):
    for url in ("/signup", "/login"):
        response = client.post(url, data={"email": email, "password": password})
        assert response.status_code in (200, 303), response.status_code
        if response.status_code == 303:
            client.post("/logout")
