"""Security properties that hold for every route, found by walking the URL map."""

import hashlib
import logging
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import url_for
from flask_login import current_user, login_required

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.secrets import DISPLAY_PREFIX_LENGTH, hash_secret
from dashboard.keys.service import create_key, key_of
from dashboard.models import ApiKey, Tool, ToolLog, User
from dashboard.tools.sync import sync_tools
from tests.conftest import PASSWORD, AuthActions, csrf_token, empty_tables, make_app

# Routes that programs call with API keys: no cookies, so no CSRF token.
CSRF_EXEMPT_PREFIXES = ("/api/",)


def state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"GET", "HEAD", "OPTIONS"}
        if methods and not rule.rule.startswith(CSRF_EXEMPT_PREFIXES):
            yield rule, sorted(methods)


def fill(rule) -> str:
    """A concrete URL for a rule, with made-up ids."""
    values = {name: str(uuid.uuid4()) for name in rule.arguments}
    for name, converter in rule._converters.items():
        if converter.__class__.__name__ == "IntegerConverter":
            values[name] = "1"
    return url_for(rule.endpoint, **values)


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_every_state_changing_route_refuses_a_request_without_csrf_token(app, client, logged_in):
    rules = list(state_changing_rules(app))
    assert len(rules) >= 3  # log-out, password, delete at least
    with app.test_request_context():
        urls = [(fill(rule), methods) for rule, methods in rules]
    for url, methods in urls:
        for method in methods:
            response = client.open(url, method=method, data={"anything": "x"})
            assert response.status_code == 400, f"{method} {url} accepted a request without CSRF"
            assert "expired or was sent from another site" in response.get_data(as_text=True)
    # And the user is still logged in: nothing above logged them out.
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_htmx_requests_are_refused_without_the_csrf_header(client, logged_in):
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert client.get("/account/").status_code == 200


# --- Every object route is scoped to its owner --------------------------------------------

# Route arguments that name a stored object: key_id, log_id, user_id, event_id, id, ...
OBJECT_ARGUMENT = re.compile(r"(^|_)id$")
WALKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def object_rules(app):
    """Dashboard rules with an id-like argument (API routes authenticate with keys instead)."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(CSRF_EXEMPT_PREFIXES) or rule.endpoint == "static":
            continue
        if any(OBJECT_ARGUMENT.search(name) for name in rule.arguments):
            yield rule


def url_with_ids(rule, ids: dict[str, str]) -> str:
    """The rule's URL with the other user's ids where the argument names one, else made up."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if converter is not None and converter.__class__.__name__ == "IntegerConverter":
            values[name] = "1"
        elif name in ids:
            values[name] = ids[name]
        elif OBJECT_ARGUMENT.search(name):
            values[name] = str(uuid.uuid4())
        else:
            values[name] = "x"
    return url_for(rule.endpoint, **values)


def ownership_violations(app, client, ids: dict[str, str]) -> list[str]:
    """Every (method, URL) over the object rules that does not answer 404 to `client`."""
    with app.test_request_context():
        urls = [(url_with_ids(rule, ids), rule.methods) for rule in object_rules(app)]
    found = []
    for url, methods in urls:
        for method in WALKED_METHODS:
            if method in methods:
                status = client.open(url, method=method, data={"name": "x"}).status_code
                if status != 404:
                    found.append(f"{method} {url} answered {status}")
    return found


@pytest.fixture
def other_users_objects(make_user):
    """User B with a key and a log row: {argument name: id} for the walk."""
    owner = make_user()
    key, _ = create_key(owner, "B's key")
    log_id = record_call(
        user_id=owner.id,
        api_key_id=key.id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "B's"},
        output_payload={"echo": "B's", "length": 3},
        status="success",
        execution_time_ms=1,
        tokens_used=1,
    )
    ids = {"key_id": str(key.id), "log_id": str(log_id), "user_id": str(owner.id)}
    return owner, key, ids


def test_every_object_route_answers_404_for_another_users_object(
    app, client, logged_in, other_users_objects
):
    owner, key, ids = other_users_objects
    assert ownership_violations(app, client, ids) == []
    # And nothing of B's changed through A's requests.
    db.session.expire_all()
    stored = db.session.get(ApiKey, key.id)
    assert (
        stored.name,
        stored.is_active,
        stored.revoked_at,
        stored.expires_at,
        stored.deleted_at,
    ) == ("B's key", True, None, None, None)
    assert db.session.get(ToolLog, uuid.UUID(ids["log_id"])) is not None
    assert db.session.get(User, owner.id).is_disabled is False


def test_object_routes_send_visitors_to_log_in(app, client, other_users_objects):
    _, _, ids = other_users_objects
    with app.test_request_context():
        urls = [(url_with_ids(rule, ids), rule.methods) for rule in object_rules(app)]
    for url, methods in urls:
        for method in WALKED_METHODS:
            if method in methods:
                response = client.open(url, method=method)
                assert response.status_code in (302, 404), f"{method} {url}"
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"]


def test_the_ownership_walk_finds_a_leaky_route(migrated_urls, make_user):
    """The walk is only worth something if it fails on a route that forgets the owner."""
    leaky = make_app(migrated_urls("sqlite"))

    @login_required
    def show_any_key(key_id):
        found = db.session.get(ApiKey, uuid.UUID(key_id))
        return ("found", 200) if found else ("missing", 404)

    @login_required
    def show_own_key(key_id):
        return ("yours", 200) if key_of(current_user, key_id) else ("missing", 404)

    leaky.add_url_rule("/leaky/<key_id>", "leaky", show_any_key, methods=["GET", "POST"])
    leaky.add_url_rule("/scoped/<key_id>", "scoped", show_own_key, methods=["GET"])
    with leaky.app_context():
        reader, owner = make_user(), make_user()
        key_id = str(create_key(owner, "B's key")[0].id)
        client = leaky.test_client()
        AuthActions(client).login(reader)
        found = ownership_violations(leaky, client, {"key_id": key_id})
        empty_tables()
        db.engine.dispose()
    assert found == [f"GET /leaky/{key_id} answered 200", f"POST /leaky/{key_id} answered 200"]


def test_support_console_is_invisible_to_customers(app, client, logged_in, other_users_objects):
    """Every /support route answers 404 to a normal user, as if it did not exist."""
    _, _, ids = other_users_objects
    with app.test_request_context():
        urls = [
            (url_with_ids(rule, ids), rule.methods)
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/support")
        ]
    assert urls
    for url, methods in urls:
        for method in WALKED_METHODS:
            if method in methods:
                status = client.open(url, method=method, data={"reason": "x"}).status_code
                assert status == 404, f"{method} {url} answered {status} to a customer"


# --- Sessions -------------------------------------------------------------------------------


@pytest.fixture
def production_like_client(app):
    """A client of a second app on the same database. The `app` fixture keeps an app context
    pushed, so its client's requests share `g` (where Flask-Login and Flask-WTF cache the user
    and the CSRF token); this app's requests each get their own context, as in production."""
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=True)
    yield other.test_client()
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_csrf_token_from_before_log_in_is_void_after_it(production_like_client, user):
    """Logging in starts a new session: a token planted before it (login CSRF) is worthless."""
    client = production_like_client
    planted = csrf_token(client, "/login")
    AuthActions(client).login(user)
    fresh = csrf_token(client, "/account/")
    assert fresh and fresh != planted
    change = {
        "current_password": PASSWORD,
        "new_password": "a new password 1",
        "confirm_password": "a new password 1",
    }
    response = client.post("/account/password", data={**change, "csrf_token": planted})
    assert response.status_code == 400
    assert client.post("/account/password", data={**change, "csrf_token": fresh}).status_code == 303


def test_a_stolen_session_cookie_from_another_browser_is_logged_out(production_like_client, user):
    """Flask-Login's strong session protection: a different browser identity drops the login."""
    client = production_like_client
    AuthActions(client).login(user)
    assert client.get("/account/").status_code == 200
    stolen = client.get("/account/", headers={"User-Agent": "another browser/1.0"})
    assert stolen.status_code == 302
    assert "/login" in stolen.headers["Location"]


# --- Secure headers on every page ----------------------------------------------------------


def argument_free_get_urls(app) -> list[str]:
    with app.test_request_context():
        return sorted(
            url_for(rule.endpoint)
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
        )


def assert_secure_headers(response, url: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {
        part.strip().split(" ")[0]: part.strip() for part in csp.split(";") if part.strip()
    }
    assert "script-src" in directives, f"{url}: no script-src in {csp!r}"
    assert "'unsafe-inline'" not in directives["script-src"], url
    assert "'unsafe-eval'" not in directives["script-src"], url
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", url
    assert directives.get("object-src") == "object-src 'none'", url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", url
    assert response.headers.get("X-Frame-Options") == "DENY", url


def assert_api_headers(response, url: str) -> None:
    """The API app's fixed set: JSON answers load nothing and are never framed or sniffed."""
    csp = response.headers.get("Content-Security-Policy", "")
    assert csp == "default-src 'none'; frame-ancestors 'none'", url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert response.headers.get("Referrer-Policy") == "no-referrer", url
    assert response.headers.get("X-Frame-Options") == "DENY", url
    assert "Set-Cookie" not in response.headers, url


@pytest.mark.parametrize("visitor", ["logged in", "anonymous"])
def test_every_page_sends_the_security_headers(app, client, user, auth, visitor):
    if visitor == "logged in":
        auth.login(user)
    urls = argument_free_get_urls(app)
    assert {"/login", "/signup", "/account/", "/tools/", "/api/v1/tools"} <= set(urls)
    for url in [*urls, "/no/such/page", "/api/v1/no-such-thing", "/api/v1/tools/%2F0"]:
        check = assert_api_headers if url.startswith("/api/") else assert_secure_headers
        check(client.get(url), url)


# --- Key secrets: stored only as their hash, never logged ----------------------------------


def every_stored_value() -> list[str]:
    """Every value of every row of every table, as text."""
    values = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)):
            values.extend(str(value) for value in row)
    return values


def test_keys_are_stored_as_their_sha256_only(app, client, user):
    sync_tools(db.session, Tool)
    key, secret = create_key(user, "stored")
    assert (
        client.post(
            "/api/v1/tools/echo", json={"message": "hi"}, headers={"X-API-Key": secret}
        ).status_code
        == 200
    )

    stored = db.session.scalar(sa.select(ApiKey.key).where(ApiKey.id == key.id))
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    hidden_part = secret[DISPLAY_PREFIX_LENGTH:]
    assert not [value for value in every_stored_value() if hidden_part in value]
    # What the table holds is not a credential.
    response = client.post(
        "/api/v1/tools/echo", json={"message": "hi"}, headers={"X-API-Key": stored}
    )
    assert response.get_json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("app_overrides", [{"SQLALCHEMY_ECHO": True}])
def test_no_secret_or_hash_in_any_log_record(app, client, user, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "sqlalchemy.engine", "dashboard", "flask_limiter"):
        caplog.set_level(logging.DEBUG, logger=name)
    sync_tools(db.session, Tool)
    _, secret = create_key(user, "logged?")
    headers = {"Authorization": f"Bearer {secret}"}
    answers = [
        client.post("/api/v1/tools/echo", json={"message": "hi"}, headers=headers),
        client.post("/api/v1/tools/echo", json={"message": 1}, headers=headers),
        client.post("/api/v1/tools/echo", data=b"{", headers=headers),
        client.get("/api/v1/usage", headers=headers),
        client.post(
            "/api/v1/tools/echo", json={"message": "hi"}, headers={"X-API-Key": secret + "x"}
        ),
    ]
    assert [answer.status_code for answer in answers] == [200, 422, 400, 200, 401]
    key_hash = hash_secret(secret)
    assert any("api_keys" in record.getMessage() for record in caplog.records)  # SQL was logged
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        assert secret[DISPLAY_PREFIX_LENGTH:] not in text, record.name
        assert key_hash not in text, f"{record.name}: {text[:300]}"


@pytest.mark.parametrize(
    "url",
    ["/logs/?tool=ec%00ho", "/logs/export.csv?code=%00", "/usage/?month=%00", "/keys/?a%00=1"],
)
def test_a_nul_character_in_a_query_string_is_a_clear_400(client, logged_in, url):
    # PostgreSQL cannot compare text holding NUL: these answered 500 there (found by the
    # query-string walk, tests/test_query_strings.py).
    response = client.get(url)
    assert response.status_code == 400
    assert "holds a NUL character" in response.get_data(as_text=True)


def test_a_nul_character_in_a_form_is_a_clear_400_and_stores_nothing(client, logged_in):
    response = client.post("/keys/", data={"name": "bad\x00name"})
    assert response.status_code == 400
    assert "holds a NUL character" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0
