"""The keys pages for a key's monthly cap (create, edit, the key page's gauge) and for test-mode
keys (chosen at creation only, a `tk_test_` secret, a "Test" badge)."""

import re

import pytest

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.secrets import hash_secret
from dashboard.keys.service import keys_of
from dashboard.models import ApiKey
from tests.keys.test_routes import HX, create_data, only_key, reload, text

TEST_SECRET_RE = re.compile(r"tk_test_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}")


def made_calls(key, calls: int) -> None:
    for n in range(calls):
        record_call(
            user_id=key.user_id,
            api_key_id=key.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"n": n},
            output_payload={"n": n},
            status="success",
            execution_time_ms=1,
            tokens_used=1,
        )


def test_the_create_form_offers_a_cap_and_test_mode(client, logged_in):
    page = text(client.get("/keys/"))
    assert "Monthly call cap (optional)" in page
    assert 'name="monthly_call_cap"' in page
    assert 'name="is_test" type="checkbox"' in page and "Test mode" in page


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_create_a_test_key_with_a_cap(client, logged_in, headers):
    response = client.post(
        "/keys/", data=create_data(monthly_call_cap="500", is_test="y"), headers=headers
    )
    page = text(response if headers else client.get("/keys/"))
    (secret,) = set(TEST_SECRET_RE.findall(page))
    key = only_key(logged_in)
    assert key.key == hash_secret(secret)
    assert key.is_test and key.monthly_call_cap == 500
    assert key.prefix.startswith("tk_test_")
    listing = text(client.get("/keys/"))
    assert 'data-testid="key-test-badge">Test<' in listing
    assert "Cap: 500 calls/month" in listing


def test_a_key_is_live_and_uncapped_unless_asked(client, logged_in):
    client.post("/keys/", data=create_data())
    key = only_key(logged_in)
    assert not key.is_test and key.monthly_call_cap is None
    assert key.prefix.startswith("tk_live_")
    assert "key-test-badge" not in text(client.get("/keys/"))


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        ("0", "Choose between 1 and 1,000,000,000 calls a month."),
        ("-5", "Choose between 1 and 1,000,000,000 calls a month."),
        ("lots", "Enter a whole number, like 100."),
        ("1000000001", "Choose between 1 and 1,000,000,000 calls a month."),
    ],
)
def test_a_bad_cap_is_refused_with_a_form_error(client, logged_in, cap, message):
    response = client.post("/keys/", data=create_data(monthly_call_cap=cap))
    assert response.status_code == 422
    assert message in text(response)
    assert keys_of(logged_in) == []


def test_edit_sets_and_clears_the_cap_but_never_the_mode(client, logged_in, make_key):
    key, _ = make_key(logged_in, "capped", is_test=True)
    form = text(client.get(f"/keys/{key.id}/edit"))
    assert 'name="monthly_call_cap"' in form and 'name="is_test"' not in form
    data = {"name": "capped", "rate_limit_per_minute": "10", "monthly_call_cap": "250"}
    response = client.post(f"/keys/{key.id}/edit", data={**data, "is_test": ""})
    assert response.status_code == 303
    key = reload(key)
    assert key.monthly_call_cap == 250 and key.is_test  # the mode is not the form's to change
    assert 'value="250"' in text(client.get(f"/keys/{key.id}/edit"))
    client.post(f"/keys/{key.id}/edit", data={**data, "monthly_call_cap": ""})
    assert reload(key).monthly_call_cap is None


def test_the_key_page_shows_the_cap_as_a_gauge(client, logged_in, make_key):
    key, _ = make_key(logged_in, "capped", monthly_call_cap=40)
    made_calls(key, 30)
    page = text(client.get(f"/keys/{key.id}"))
    assert 'data-testid="key-cap"' in page
    assert 'data-testid="key-cap-used">30<' in page and 'data-testid="key-cap-limit">40<' in page
    assert 'aria-valuenow="75.0"' in page and "10 calls left" in page
    assert "bg-primary" in page.split('data-testid="key-cap"')[1].split("</section>")[0]
    made_calls(key, 10)
    full = text(client.get(f"/keys/{key.id}"))
    assert "Cap reached:" in full and "key_quota_exceeded" in full


def test_the_key_page_has_no_gauge_without_a_cap_and_a_badge_for_test_keys(
    client, logged_in, make_key
):
    live, _ = make_key(logged_in, "live")
    test, _ = make_key(logged_in, "test", is_test=True)
    live_page = text(client.get(f"/keys/{live.id}"))
    assert 'data-testid="key-cap"' not in live_page and "key-test-badge" not in live_page
    assert 'data-testid="key-test-badge">Test<' in text(client.get(f"/keys/{test.id}"))


def test_a_rolled_key_keeps_its_mode_and_cap(client, logged_in, make_key):
    key, _ = make_key(logged_in, "rolled", is_test=True, monthly_call_cap=9)
    response = client.post(f"/keys/{key.id}/roll", data={"grace": "none"})
    assert response.status_code == 303
    page = text(client.get("/keys/"))
    (secret,) = set(TEST_SECRET_RE.findall(page))
    new = db.session.get(ApiKey, reload(key).replaced_by_id)
    assert new.key == hash_secret(secret)
    assert new.is_test and new.monthly_call_cap == 9
