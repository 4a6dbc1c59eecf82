"""Request tests of the keys page: every action plain (303) and with htmx (fragments)."""

import html
import re
import uuid
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from dashboard.alerts.key_events import SYSTEM
from dashboard.extensions import db
from dashboard.keys.routes import NEW_SECRET_SESSION_KEY
from dashboard.keys.secrets import DISPLAY_PREFIX_LENGTH, hash_secret
from dashboard.keys.service import expire_key, keys_of, roll_key
from dashboard.models import ApiKey, utcnow

HX = {"HX-Request": "true"}
SECRET_RE = re.compile(r"tk_live_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def only_key(user) -> ApiKey:
    (key,) = keys_of(user)
    return key


def reload(key) -> ApiKey:
    db.session.expire_all()
    return db.session.get(ApiKey, key.id)


def create_data(**fields) -> dict:
    return {"name": "production", "expiry": "never", "rate_limit_per_minute": "100", **fields}


# --- access -----------------------------------------------------------------------------------

KEY_URLS = [
    ("get", "/keys/{id}"),
    ("get", "/keys/{id}/edit"),
    ("post", "/keys/{id}/edit"),
    ("get", "/keys/{id}/expire"),
    ("post", "/keys/{id}/expire"),
    ("get", "/keys/{id}/roll"),
    ("post", "/keys/{id}/roll"),
    ("get", "/keys/{id}/delete"),
    ("post", "/keys/{id}/delete"),
]


@pytest.mark.parametrize(("method", "url"), [("get", "/keys/"), ("post", "/keys/"), *KEY_URLS])
def test_every_page_needs_login(client, user, make_key, method, url):
    key, _ = make_key(user)
    response = getattr(client, method)(url.format(id=key.id))
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
    assert reload(key).is_active


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
@pytest.mark.parametrize(("method", "url"), KEY_URLS)
def test_someone_elses_key_answers_404_and_stays_untouched(
    client, logged_in, make_user, make_key, method, url, headers
):
    theirs, _ = make_key(make_user(), "theirs", rate_limit_per_minute=50)
    data = {"name": "mine now", "rate_limit_per_minute": "5", "grace": "none"}
    response = getattr(client, method)(url.format(id=theirs.id), data=data, headers=headers)
    assert response.status_code == 404
    theirs = reload(theirs)
    assert (theirs.name, theirs.rate_limit_per_minute) == ("theirs", 50)
    assert theirs.is_active and theirs.revoked_at is None and theirs.replaced_by_id is None
    assert len(db.session.scalars(sa.select(ApiKey)).all()) == 1


@pytest.mark.parametrize("bad_id", ["nope", str(uuid.uuid4()), "1'--"])
@pytest.mark.parametrize(("method", "url"), KEY_URLS)
def test_malformed_or_unknown_ids_answer_404(client, logged_in, method, url, bad_id):
    assert getattr(client, method)(url.format(id=bad_id)).status_code == 404


# --- the list -----------------------------------------------------------------------------------


def test_empty_state_shows_how_to_call_a_tool(client, logged_in):
    response = client.get("/keys/")
    page = text(response)
    assert response.status_code == 200
    assert "<html" in page
    assert "No API keys yet" in page
    assert "curl -X POST http://localhost/api/v1/tools/sentiment" in page
    assert '-H "Authorization: Bearer tk_live_…"' in page
    assert '-H "Content-Type: application/json"' in page
    assert """-d '{"text": "I love this"}'""" in page
    assert "0 of 3 working keys on the Free plan" in page


def test_index_fragment_for_htmx(client, logged_in, make_key):
    make_key(logged_in, "in the fragment")
    response = client.get("/keys/", headers=HX)
    page = text(response)
    assert "<html" not in page
    assert 'id="keys-section"' in page and "in the fragment" in page
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"


def test_list_shows_each_key_newest_first(client, logged_in, make_key):
    now = utcnow()
    old, old_secret = make_key(logged_in, "old laptop", rate_limit_per_minute=7)
    new, new_secret = make_key(
        logged_in,
        "ci runner",
        expires_at=now + timedelta(days=30, hours=1),
        allowed_tools=["echo", "sentiment"],
        allowed_ips=["10.0.0.0/8"],
    )
    old.created_at = datetime(2025, 2, 3, 4, 5, 6)
    old.last_request_at = now - timedelta(minutes=5)
    new.created_at = datetime(2025, 3, 4, 5, 6, 7)
    db.session.commit()
    page = text(client.get("/keys/"))
    assert page.index("ci runner") < page.index("old laptop")
    for key in (old, new):
        assert f"{key.prefix}…" in page
    assert old_secret not in page and new_secret not in page
    assert old.key not in page and new.key not in page
    # Created: the date, the exact time on hover.
    assert 'title="2025-02-03 04:05:06 UTC">2025-02-03</time>' in page
    # Last used: relative, exact on hover; never for the unused key.
    last_used = old.last_request_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f'title="{last_used}">5 min ago</time>' in page
    assert "Never" in page
    assert "in 30 days" in page  # expires
    assert "7/min" in page and "100/min" in page
    assert 'Tools: <span class="mono">echo, sentiment</span>' in page
    assert "10.0.0.0/8" in page
    assert "2 of 3 working keys" in page


def status_of(page: str, key) -> str:
    match = re.search(rf'id="key-{key.id}"[^>]*data-status="(\w+)"', page)
    assert match, f"no row for {key.name}"
    return match.group(1)


def test_list_shows_every_status(client, logged_in, make_key, app):
    now = utcnow()
    active, _ = make_key(logged_in, "active one")
    expired, _ = make_key(logged_in, "expired one", expires_at=now - timedelta(minutes=1))
    revoked, _ = make_key(logged_in, "revoked one")
    expire_key(revoked, actor=SYSTEM)
    rolled, _ = make_key(logged_in, "rolled one")
    successor, _ = roll_key(rolled, timedelta(hours=1), actor=SYSTEM, now=now)
    page = text(client.get("/keys/"))
    assert status_of(page, active) == "active"
    assert status_of(page, expired) == "expired"
    assert status_of(page, revoked) == "expired"  # one word for every key that stopped working
    assert status_of(page, rolled) == "rolled"
    assert status_of(page, successor) == "active"
    until = reload(rolled).grace_ends_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert re.search(rf"Rolled — works until <time [^>]*>{until}</time>", page)
    to_successor = f'href="/keys/{successor.id}" data-testid="rolled-to"><code>{successor.prefix}…'
    assert "rolled to <a " + to_successor in page
    assert (
        f'rolled from <a href="/keys/{rolled.id}" data-testid="rolled-from"><code>{rolled.prefix}…'
        in page
    )
    # Only active keys can be rolled; a key that stopped working offers no action at all.
    assert f"/keys/{active.id}/roll" in page
    assert f"/keys/{rolled.id}/roll" not in page and f"/keys/{expired.id}/roll" not in page
    for dead in (expired, revoked):
        assert f"/keys/{dead.id}/expire" not in page and f"/keys/{dead.id}/edit" not in page
    assert f"/keys/{rolled.id}/edit" in page
    assert f"/keys/{rolled.id}/expire" in page
    assert "3 of 3 working keys" in page  # active one, successor, and rolled in its grace


def test_row_for_htmx_and_the_key_page_for_plain(client, logged_in, make_key):
    key, _ = make_key(logged_in, "a row")
    fragment = text(client.get(f"/keys/{key.id}", headers=HX))
    assert fragment.lstrip().startswith("<tr") and "a row" in fragment
    assert "<html" not in fragment
    plain = client.get(f"/keys/{key.id}")
    assert plain.status_code == 200 and 'data-testid="key-history"' in plain.text


# --- creating -----------------------------------------------------------------------------------


def test_create_plain_shows_the_secret_exactly_once(client, logged_in):
    response = client.post("/keys/", data=create_data())
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/keys/")
    key = only_key(logged_in)

    first = client.get("/keys/")
    page = text(first)
    (secret,) = set(SECRET_RE.findall(page))
    assert key.key == hash_secret(secret)
    assert 'id="new-key-secret"' in page and 'data-copy-target="#new-key-secret"' in page
    assert "shown only this once" in page
    assert "Key “production” created" in page
    assert first.headers["Cache-Control"] == "no-store"
    with client.session_transaction() as session:
        assert NEW_SECRET_SESSION_KEY not in session

    again = text(client.get("/keys/"))
    assert secret not in again and key.key not in again
    assert 'id="new-key-secret"' not in again
    assert f"{key.prefix}…" in again
    assert secret not in text(client.get("/keys/", headers=HX))
    assert secret not in text(client.get(f"/keys/{key.id}/edit"))


def test_create_with_htmx_answers_the_section_with_the_secret(client, logged_in):
    response = client.post("/keys/", data=create_data(name="from htmx"), headers=HX)
    page = text(response)
    assert response.status_code == 200
    assert "<html" not in page
    assert page.lstrip().startswith('<div id="keys-section"')
    (secret,) = set(SECRET_RE.findall(page))
    key = only_key(logged_in)
    assert key.key == hash_secret(secret)
    assert 'hx-swap-oob="true"' in page and "Key “from htmx” created" in page
    with client.session_transaction() as session:
        assert NEW_SECRET_SESSION_KEY not in session
    later = text(client.get("/keys/"))
    assert secret not in later and key.key not in later and "from htmx" in later


def secret_shown_after_creating(client, headers, **fields) -> str:
    """Create a key plain (secret on the next page) or with htmx (secret in the answer)."""
    response = client.post("/keys/", data=create_data(**fields), headers=headers)
    page = text(response if headers else client.get("/keys/"))
    (secret,) = set(SECRET_RE.findall(page))
    return secret


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_database_holds_no_secret(client, logged_in, tools, headers):
    secrets = [
        secret_shown_after_creating(client, headers, name="plain"),
        secret_shown_after_creating(
            client, headers, name="restricted", allowed_tools=["echo"], allowed_ips="10.0.0.1"
        ),
    ]
    newest = keys_of(logged_in)[0]
    rolled = client.post(f"/keys/{newest.id}/roll", data={"grace": "1h"}, headers=headers)
    secrets += set(SECRET_RE.findall(text(rolled if headers else client.get("/keys/"))))
    assert len(secrets) == 3
    # Every column of every api_keys row, read as text.
    columns = [sa.cast(column, sa.Text) for column in ApiKey.__table__.columns]
    rows = db.session.execute(sa.select(*columns)).all()
    assert len(rows) == 3  # two created, one successor
    for secret in secrets:
        hidden_part = secret[DISPLAY_PREFIX_LENGTH:]  # what the list's prefix never shows
        for row in rows:
            for value in filter(None, row):
                assert secret not in value and hidden_part not in value


@pytest.mark.parametrize(
    ("choice", "delta"),
    [("7", timedelta(days=7)), ("30", timedelta(days=30)), ("90", timedelta(days=90))],
)
def test_create_with_an_expiry_preset(client, logged_in, choice, delta):
    before = utcnow()
    client.post("/keys/", data=create_data(expiry=choice))
    expires_at = only_key(logged_in).expires_at
    assert before + delta - timedelta(seconds=1) <= expires_at <= utcnow() + delta


def test_create_with_a_custom_date_and_never(client, logged_in):
    day = utcnow().date() + timedelta(days=10)
    client.post(
        "/keys/", data=create_data(name="dated", expiry="custom", expires_on=day.isoformat())
    )
    client.post("/keys/", data=create_data(name="forever", expires_on=day.isoformat()))
    by_name = {k.name: k for k in keys_of(logged_in)}
    assert by_name["dated"].expires_at == datetime.combine(day, datetime.min.time())
    assert by_name["forever"].expires_at is None


def test_create_with_restrictions(client, logged_in, tools):
    response = client.post(
        "/keys/",
        data=create_data(
            allowed_tools=["sentiment", "echo"],
            allowed_ips="203.0.113.7, 10.1.2.3/8\n2001:db8::/32",
            rate_limit_per_minute=" 25 ",
        ),
    )
    assert response.status_code == 303
    key = only_key(logged_in)
    assert key.allowed_tools == ["echo", "sentiment"]
    assert key.allowed_ips == ["10.0.0.0/8", "2001:db8::/32", "203.0.113.7/32"]
    assert key.rate_limit_per_minute == 25


def test_create_without_restrictions_stores_none(client, logged_in, tools):
    client.post("/keys/", data=create_data(allowed_ips="  "))
    key = only_key(logged_in)
    assert key.allowed_tools is None and key.allowed_ips is None


def test_create_form_offers_tool_checkboxes(client, logged_in, tools):
    page = text(client.get("/keys/"))
    assert 'type="checkbox" name="allowed_tools"' in page
    assert 'value="echo"' in page and 'value="sentiment"' in page
    assert 'value="retired"' not in page


def test_create_form_without_tools_says_so(client, logged_in):
    assert "no tools to choose from yet" in text(client.get("/keys/"))


def test_a_name_of_80_characters_is_fine(client, logged_in):
    assert client.post("/keys/", data=create_data(name="n" * 80)).status_code == 303
    assert only_key(logged_in).name == "n" * 80


def test_pro_plan_allows_higher_rate_limits(client, make_user, auth):
    user = make_user(plan="pro")
    auth.login(user)
    assert client.post("/keys/", data=create_data(rate_limit_per_minute="1000")).status_code == 303
    bad = client.post("/keys/", data=create_data(rate_limit_per_minute="1001"))
    assert "Choose between 1 and 1,000 calls per minute (the most your Pro plan allows)." in text(
        bad
    )


TOMORROW = (date.today() + timedelta(days=2)).isoformat()

BAD_CREATE = [
    ({"name": ""}, "Give the key a name."),
    ({"name": "   "}, "Give the key a name."),
    ({"name": "n" * 81}, "A name has at most 80 characters."),
    ({"rate_limit_per_minute": ""}, "Enter a rate limit."),
    ({"rate_limit_per_minute": "abc"}, "Enter a whole number, like 100."),
    ({"rate_limit_per_minute": "1.5"}, "Enter a whole number, like 100."),
    ({"rate_limit_per_minute": "0"}, "Choose between 1 and 100 calls per minute"),
    ({"rate_limit_per_minute": "-3"}, "Choose between 1 and 100 calls per minute"),
    ({"rate_limit_per_minute": "101"}, "the most your Free plan allows"),
    ({"rate_limit_per_minute": "9" * 40}, "Choose between 1 and 100 calls per minute"),
    ({"expiry": "forever-ish"}, "Choose when the key expires."),
    ({"expiry": "custom"}, "Pick the date the key expires."),
    ({"expiry": "custom", "expires_on": "2020-01-01"}, "Pick a date after today."),
    ({"expiry": "custom", "expires_on": date.today().isoformat()}, "Pick a date after today."),
    ({"expiry": "custom", "expires_on": "31/12/2099"}, "Enter a date like 2030-01-31."),
    ({"expiry": "custom", "expires_on": "99999-01-01"}, "Enter a date like 2030-01-31."),
    ({"allowed_tools": ["echo", "nope", "retired"]}, "Unknown tools: nope, retired."),
    (
        {"allowed_ips": "10.0.0.1, bad-one 300.1.1.1"},
        "Not an IP address or CIDR range: bad-one, 300.1.1.1",
    ),
    ({"allowed_ips": "1" * 4001}, "Use at most 4000 characters here."),
]


@pytest.mark.parametrize(("fields", "message"), BAD_CREATE)
def test_create_refuses_bad_input_with_a_form_error(client, logged_in, tools, fields, message):
    response = client.post("/keys/", data=create_data(**fields))
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert 'aria-invalid="true"' in page or "invalid-feedback d-block" in page
    assert keys_of(logged_in) == []


@pytest.mark.parametrize(
    ("fields", "message"), BAD_CREATE[:1] + BAD_CREATE[4:5] + BAD_CREATE[-2:-1]
)
def test_create_errors_with_htmx_re_render_the_section(client, logged_in, tools, fields, message):
    response = client.post("/keys/", data=create_data(**fields), headers=HX)
    page = text(response)
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert "<html" not in page and message in page
    assert "data-autofocus" in page  # focus goes to the first field in error
    assert keys_of(logged_in) == []


def test_create_keeps_what_was_typed_after_an_error(client, logged_in, tools):
    page = text(
        client.post(
            "/keys/",
            data=create_data(name="keep me", rate_limit_per_minute="0", allowed_tools=["echo"]),
        )
    )
    assert 'value="keep me"' in page
    assert re.search(r'value="echo" checked', page)


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_plan_bounds_active_keys(client, logged_in, make_key, headers):
    for n in range(3):
        make_key(logged_in, f"key {n}")
    page = text(client.get("/keys/"))
    message = (
        "Your Free plan allows 3 working keys (rolled keys count until their grace period ends)"
    )
    assert message in page
    response = client.post("/keys/", data=create_data(name="fourth"), headers=headers)
    assert response.status_code == (200 if headers else 422)
    assert message in text(response)
    assert len(keys_of(logged_in)) == 3


def test_expired_and_revoked_keys_do_not_count_against_the_plan(client, logged_in, make_key):
    make_key(logged_in, "expired", expires_at=utcnow() - timedelta(days=1))
    expire_key(make_key(logged_in, "revoked")[0], actor=SYSTEM)
    roll_key(
        make_key(logged_in, "rolled, no grace")[0], timedelta(0), actor=SYSTEM
    )  # successor counts
    make_key(logged_in, "active")
    assert "Your Free plan allows" not in text(client.get("/keys/"))
    assert client.post("/keys/", data=create_data(name="third")).status_code == 303
    assert "Your Free plan allows 3 working keys" in text(client.get("/keys/"))


def test_a_rolled_key_in_its_grace_counts_against_the_plan(client, logged_in, make_key):
    roll_key(
        make_key(logged_in, "rolled")[0], timedelta(hours=1), actor=SYSTEM
    )  # it and its successor work
    make_key(logged_in, "active")
    assert "3 of 3 working keys" in text(client.get("/keys/"))
    assert client.post("/keys/", data=create_data(name="fourth")).status_code == 422


# --- editing ------------------------------------------------------------------------------------


def test_edit_form_plain_page_and_htmx_row(client, logged_in, make_key, tools):
    key, _ = make_key(
        logged_in,
        "to edit",
        rate_limit_per_minute=33,
        allowed_tools=["echo"],
        allowed_ips=["10.0.0.0/8", "192.168.0.0/16"],
    )
    page = text(client.get(f"/keys/{key.id}/edit"))
    assert "<html" in page
    assert 'value="to edit"' in page and 'value="33"' in page
    assert re.search(r'value="echo" checked', page)
    assert "10.0.0.0/8\n192.168.0.0/16" in page
    assert "hx-post" not in page.split('class="key-edit-form"')[1].split(">")[0]  # plain post
    row = text(client.get(f"/keys/{key.id}/edit", headers=HX))
    assert "<html" not in row
    assert row.lstrip().startswith(f'<tr id="key-{key.id}"')
    assert f'hx-post="/keys/{key.id}/edit"' in row
    assert f'id="key-{key.id.hex[:12]}-name"' in row  # unique ids next to the create form
    assert f'for="key-{key.id.hex[:12]}-name"' in row


def test_edit_plain_saves_and_redirects(client, logged_in, make_key, tools):
    key, _ = make_key(logged_in, "before", allowed_tools=["echo"])
    response = client.post(
        f"/keys/{key.id}/edit",
        data={
            "name": "after",
            "rate_limit_per_minute": "12",
            "allowed_tools": ["sentiment"],
            "allowed_ips": "198.51.100.0/24",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/keys/")
    key = reload(key)
    assert (key.name, key.rate_limit_per_minute) == ("after", 12)
    assert key.allowed_tools == ["sentiment"] and key.allowed_ips == ["198.51.100.0/24"]
    assert "Key “after” saved." in text(client.get("/keys/"))


def test_edit_can_lift_restrictions(client, logged_in, make_key, tools):
    key, _ = make_key(logged_in, "restricted", allowed_tools=["echo"], allowed_ips=["10.0.0.0/8"])
    client.post(
        f"/keys/{key.id}/edit",
        data={"name": "free", "rate_limit_per_minute": "100", "allowed_ips": ""},
    )
    key = reload(key)
    assert key.allowed_tools is None and key.allowed_ips is None


def test_edit_with_htmx_answers_the_row_and_a_flash(client, logged_in, make_key):
    key, secret = make_key(logged_in, "before")
    response = client.post(
        f"/keys/{key.id}/edit",
        data={"name": "after htmx", "rate_limit_per_minute": "9"},
        headers=HX,
    )
    page = text(response)
    assert response.status_code == 200
    assert "<html" not in page
    assert page.lstrip().startswith(f'<tr id="key-{key.id}"')
    assert "after htmx" in page and "9/min" in page
    assert (
        'id="flashes"' in page
        and 'hx-swap-oob="true"' in page
        and "Key “after htmx” saved." in page
    )
    assert secret not in page and key.key not in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Give the key a name."),
        ({"name": "x" * 81}, "A name has at most 80 characters."),
        ({"rate_limit_per_minute": "many"}, "Enter a whole number, like 100."),
        ({"rate_limit_per_minute": "500"}, "the most your Free plan allows"),
        ({"allowed_tools": ["ghost"]}, "Unknown tools: ghost."),
        ({"allowed_ips": "::1, 10.0.0.0/99"}, "Not an IP address or CIDR range: 10.0.0.0/99"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_edit_refuses_bad_input(client, logged_in, make_key, tools, fields, message, headers):
    key, _ = make_key(logged_in, "unchanged", rate_limit_per_minute=50)
    data = {"name": "changed", "rate_limit_per_minute": "60", **fields}
    response = client.post(f"/keys/{key.id}/edit", data=data, headers=headers)
    page = text(response)
    assert response.status_code == (200 if headers else 422)
    assert message in page
    assert ("<html" in page) is not bool(headers)
    key = reload(key)
    assert (key.name, key.rate_limit_per_minute) == ("unchanged", 50)


def test_edit_keeps_a_tool_that_was_deactivated_since(client, logged_in, make_key, tools):
    key, _ = make_key(logged_in, "old tool", allowed_tools=["retired", "echo"])
    assert re.search(r'value="retired" checked', text(client.get(f"/keys/{key.id}/edit")))
    response = client.post(
        f"/keys/{key.id}/edit",
        data={
            "name": "old tool",
            "rate_limit_per_minute": "100",
            "allowed_tools": ["retired", "echo"],
        },
    )
    assert response.status_code == 303
    assert reload(key).allowed_tools == ["echo", "retired"]


# --- expiring -----------------------------------------------------------------------------------


def test_expire_confirmation_page(client, logged_in, make_key, app):
    app.config["API_KEY_CACHE_SECONDS"] = 5
    key, _ = make_key(logged_in, "doomed")
    page = text(client.get(f"/keys/{key.id}/expire"))
    assert "<html" in page
    assert "Expire “doomed” now?" in page and "stops working within 5 seconds" in page
    assert f'action="/keys/{key.id}/expire"' in page
    assert reload(key).is_active  # asking changes nothing
    listing = text(client.get("/keys/"))
    assert f'href="/keys/{key.id}/expire"' in listing  # without JavaScript: the page above
    assert f'hx-post="/keys/{key.id}/expire"' in listing
    assert 'hx-confirm="Expire the key “doomed”' in listing


def test_expire_plain(client, logged_in, make_key, app):
    app.config["API_KEY_CACHE_SECONDS"] = 5
    key, _ = make_key(logged_in, "doomed")
    response = client.post(f"/keys/{key.id}/expire")
    assert response.status_code == 303 and response.headers["Location"].endswith("/keys/")
    key = reload(key)
    assert key.is_active is False and key.revoked_at is not None
    page = text(client.get("/keys/"))
    assert "Key “doomed” expired. It stops working within 5 seconds." in page
    assert status_of(page, key) == "expired"


def test_expire_with_htmx_answers_the_section(client, logged_in, make_key):
    key, _ = make_key(logged_in, "doomed")
    response = client.post(f"/keys/{key.id}/expire", headers=HX)
    page = text(response)
    assert response.status_code == 200 and "<html" not in page
    assert status_of(page, key) == "expired"
    assert "Key “doomed” expired. It stops working at once." in page  # tests cache 0 seconds
    assert 'hx-swap-oob="true"' in page


def test_expire_an_already_expired_key_changes_nothing(client, logged_in, make_key):
    key, _ = make_key(logged_in, "gone")
    expire_key(key, actor=SYSTEM, now=datetime(2025, 1, 1))
    client.post(f"/keys/{key.id}/expire")
    assert reload(key).revoked_at == datetime(2025, 1, 1)
    assert "Key “gone” has already expired." in text(client.get("/keys/"))


def test_expire_a_rolled_key_ends_its_grace(client, logged_in, make_key):
    key, _ = make_key(logged_in, "rolled")
    roll_key(key, timedelta(days=7), actor=SYSTEM)
    client.post(f"/keys/{key.id}/expire")
    assert status_of(text(client.get("/keys/")), key) == "expired"


# --- rolling ------------------------------------------------------------------------------------


def test_roll_form_plain_page_and_htmx_row(client, logged_in, make_key):
    key, _ = make_key(logged_in, "to roll")
    page = text(client.get(f"/keys/{key.id}/roll"))
    assert "<html" in page and "Roll “to roll”" in page
    for value in ("none", "1h", "24h", "7d"):
        assert f'name="grace" id="key-{key.id.hex[:12]}-grace-{value}" value="{value}"' in page
    assert 'value="24h" checked' in page
    row = text(client.get(f"/keys/{key.id}/roll", headers=HX))
    assert "<html" not in row and row.lstrip().startswith(f'<tr id="key-{key.id}"')
    assert f'hx-post="/keys/{key.id}/roll"' in row


def test_roll_plain_shows_the_new_secret_once_and_both_keys(client, logged_in, make_key, tools):
    old, old_secret = make_key(
        logged_in,
        "prod",
        rate_limit_per_minute=42,
        allowed_tools=["echo"],
        allowed_ips=["10.0.0.0/8"],
    )
    response = client.post(f"/keys/{old.id}/roll", data={"grace": "24h"})
    assert response.status_code == 303
    old = reload(old)
    new = db.session.get(ApiKey, old.replaced_by_id)
    assert (new.name, new.rate_limit_per_minute, new.allowed_tools, new.allowed_ips) == (
        "prod",
        42,
        ["echo"],
        ["10.0.0.0/8"],
    )
    page = text(client.get("/keys/"))
    (secret,) = set(SECRET_RE.findall(page))
    assert new.key == hash_secret(secret) and secret != old_secret
    assert f"It replaces <code>{old.prefix}…</code>, which\n      keeps working until" in page
    assert status_of(page, old) == "rolled" and status_of(page, new) == "active"
    assert "Key “prod” rolled." in page
    again = text(client.get("/keys/"))
    assert secret not in again and new.key not in again and old.key not in again


def test_roll_with_htmx_answers_the_section_with_the_secret(client, logged_in, make_key):
    old, _ = make_key(logged_in, "prod")
    response = client.post(f"/keys/{old.id}/roll", data={"grace": "1h"}, headers=HX)
    page = text(response)
    assert response.status_code == 200 and "<html" not in page
    (secret,) = set(SECRET_RE.findall(page))
    new = db.session.get(ApiKey, reload(old).replaced_by_id)
    assert new.key == hash_secret(secret)
    assert status_of(page, old) == "rolled"
    grace = reload(old).grace_ends_at - utcnow()
    assert timedelta(minutes=59) < grace <= timedelta(hours=1)


def test_roll_without_grace_stops_the_old_key_at_once(client, logged_in, make_key):
    old, _ = make_key(logged_in, "prod")
    client.post(f"/keys/{old.id}/roll", data={"grace": "none"})
    page = text(client.get("/keys/"))
    assert status_of(page, old) == "expired"
    assert "has stopped working" in page


@pytest.mark.parametrize("grace", ["", "2y", "forever"])
def test_roll_refuses_an_unknown_grace(client, logged_in, make_key, grace):
    old, _ = make_key(logged_in, "prod")
    response = client.post(f"/keys/{old.id}/roll", data={"grace": grace})
    assert response.status_code == 422
    assert "Choose how long the old key keeps working." in text(response)
    assert len(keys_of(logged_in)) == 1 and reload(old).replaced_by_id is None


@pytest.mark.parametrize("state", ["expired", "revoked", "rolled"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_rolling_a_key_that_is_not_active_is_refused(client, logged_in, make_key, state, headers):
    key, _ = make_key(logged_in, "stale")
    if state == "expired":
        key.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    elif state == "revoked":
        expire_key(key, actor=SYSTEM)
    else:
        roll_key(key, timedelta(hours=1), actor=SYSTEM)
    count = len(keys_of(logged_in))
    response = client.post(f"/keys/{key.id}/roll", data={"grace": "1h"}, headers=headers)
    page = text(response) if headers else text(client.get(response.headers["Location"]))
    assert "only an active key can be rolled" in page
    assert len(keys_of(logged_in)) == count
    assert not SECRET_RE.search(page)


def test_rolling_at_the_plan_limit_needs_no_grace_period(client, logged_in, make_key):
    """A grace period would leave 4 working secrets on a 3-key plan: refused, nothing made.
    Without one the count stays 3: allowed."""
    keys = [make_key(logged_in, f"key {n}")[0] for n in range(3)]
    refused = client.post(f"/keys/{keys[0].id}/roll", data={"grace": "1h"})
    assert refused.status_code == 303
    page = text(client.get(refused.headers["Location"]))
    assert "Roll with no grace period, expire a key, or upgrade" in page
    assert not SECRET_RE.search(page)
    assert len(keys_of(logged_in)) == 3
    assert client.post(f"/keys/{keys[0].id}/roll", data={"grace": "none"}).status_code == 303
    assert len(keys_of(logged_in)) == 4


def test_no_secret_or_hash_in_log_lines(client, logged_in, caplog):
    caplog.set_level("DEBUG")
    secret = secret_shown_after_creating(client, {}, name="logged?")
    key = only_key(logged_in)
    client.post(f"/keys/{key.id}/roll", data={"grace": "1h"}, headers=HX)
    client.post(f"/keys/{key.id}/edit", data={"name": "", "rate_limit_per_minute": "x"})
    client.post(f"/keys/{key.id}/expire")
    hashes = [k.key for k in keys_of(logged_in)]
    for record in caplog.records:
        line = record.getMessage()
        assert secret not in line
        assert not any(h in line for h in hashes)


def test_at_the_plan_limit_the_create_form_is_read_only_and_says_where_to_go(
    client, logged_in, make_key
):
    for n in range(3):  # Free: 3 keys
        make_key(logged_in, f"key {n}")
    page = client.get("/keys/").get_data(as_text=True)
    assert 'data-testid="key-limit"' in page
    assert re.search(
        r'<fieldset class="create-key-fields" disabled aria-describedby="key-limit">', page
    )
    assert 'href="/account/#plans"' in page
    expire_key(keys_of(logged_in)[0], actor=SYSTEM)
    page = client.get("/keys/").get_data(as_text=True)
    assert 'data-testid="key-limit"' not in page
    assert '<fieldset class="create-key-fields">' in page


@pytest.mark.parametrize(
    ("app_overrides", "href", "label"),
    [
        ({"SUPPORT_CONTACT": "help@example.com"}, "mailto:help@example.com", "help@example.com"),
        (
            {"SUPPORT_CONTACT": "https://help.example.com/"},
            "https://help.example.com/",
            "contact support",
        ),
        ({"MAIL_FROM": "Toolbox <ops@example.com>"}, "mailto:ops@example.com", "ops@example.com"),
    ],
)
def test_the_plans_say_how_to_reach_support(client, logged_in, app_overrides, href, label):
    page = client.get("/account/").get_data(as_text=True)
    change = re.search(r'data-testid="plan-change">(.*?)</p>', page).group(1)
    assert f'<a href="{href}">{label}</a>' in change
