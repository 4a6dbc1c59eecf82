"""A page per key: calls by outcome, success rate, latency, last use, restrictions, history."""

import re
from datetime import timedelta

import pytest

from dashboard.api.metering import record_call, record_rejection
from dashboard.extensions import db
from dashboard.keys.activity import key_activity
from dashboard.models import ApiKey, utcnow
from tests.conftest import csrf_token
from tests.support.conftest import start_viewing

HX = {"HX-Request": "true"}


@pytest.fixture
def support(make_user):
    """A support person."""
    return make_user(role="support")


def calls(key, successes=3, errors=1, ip="203.0.113.9"):
    at = utcnow() - timedelta(minutes=5)
    for n in range(successes + errors):
        failed = n >= successes
        record_call(
            user_id=key.user_id,
            api_key_id=key.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"message": "hi"},
            output_payload=None if failed else {"echo": "hi"},
            status="error" if failed else "success",
            execution_time_ms=10 * (n + 1),
            tokens_used=3,
            error_message="boom" if failed else None,
            error_code="tool_error" if failed else None,
            client_ip=ip,
            at=at + timedelta(seconds=n),
        )


def test_the_key_page_shows_its_activity(client, logged_in, make_key):
    key, _ = make_key(logged_in, "Production", allowed_ips=["203.0.113.0/24"])
    calls(key)
    record_rejection(user_id=logged_in.id, api_key_id=key.id, tool_name="echo", reason="quota")
    page = client.get(f"/keys/{key.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body
    assert 'data-testid="key-calls">4</a>' in body
    assert 'data-testid="key-success-rate">75.0%' in body
    assert 'data-testid="key-last-ip">203.0.113.9' in body
    assert "203.0.113.0/24" in body and 'id="figure-calls-by-outcome"' in body
    assert "median" in body
    # htmx still gets the key's row (the list swaps it in when editing is cancelled)
    row = client.get(f"/keys/{key.id}", headers=HX).get_data(as_text=True)
    assert row.lstrip().startswith("<tr") and "<html" not in row


def test_each_number_on_the_key_page_links_to_exactly_its_calls(client, logged_in, make_key):
    key, _ = make_key(logged_in, "Production")
    other, _ = make_key(logged_in, "Other")
    calls(key, successes=4, errors=2)
    calls(other, successes=5, errors=5)
    body = client.get(f"/keys/{key.id}").text
    for testid, expected in (("key-calls", 6), ("key-errors", 2)):
        link = re.search(rf'href="([^"]+)" data-testid="{testid}"', body).group(1)
        listing = client.get(link.replace("&amp;", "&")).text
        assert len(re.findall('data-log-id="', listing)) == expected, testid


def test_activity_counts_come_from_the_rollup(app, logged_in, make_key):
    key, _ = make_key(logged_in, "k")
    calls(key, successes=2, errors=2)
    report = key_activity(key)
    assert (report["calls"], report["errors"], report["success_rate"]) == (4, 2, 0.5)
    assert sum(report["histogram"]) == 4


def test_history_says_who_changed_the_key(client, auth, logged_in, make_key, support):
    key, _ = make_key(logged_in, "Production")
    token = csrf_token(client, "/keys/")
    data = {"name": "Renamed", "rate_limit_per_minute": "50", "csrf_token": token}
    assert client.post(f"/keys/{key.id}/edit", data=data).status_code == 303
    history = client.get(f"/keys/{key.id}").text
    assert "Settings changed: name, rate limit" in history
    assert f"by {logged_in.email}" in history

    auth.logout()
    auth.login(support)
    start_viewing(client, logged_in)
    token = csrf_token(client, "/keys/")
    client.post(f"/keys/{key.id}/expire", data={"csrf_token": token})
    history = client.get(f"/keys/{key.id}").text
    assert "Expired now" in history and f"by support ({support.email})" in history
    assert history.count("Expired now") == 1


def test_history_shows_a_roll(client, logged_in, make_key):
    key, _ = make_key(logged_in, "Production")
    token = csrf_token(client, "/keys/")
    client.post(f"/keys/{key.id}/roll", data={"grace": "1h", "csrf_token": token})
    db.session.expire_all()
    successor = db.session.get(ApiKey, db.session.get(ApiKey, key.id).replaced_by_id)
    assert f"replaced by {successor.prefix}" in client.get(f"/keys/{key.id}").text
    assert f"Made by rolling key {key.prefix}" in client.get(f"/keys/{successor.id}").text


def test_another_users_key_page_is_404(client, logged_in, make_key, make_user):
    stranger_key, _ = make_key(make_user(), "theirs")
    assert client.get(f"/keys/{stranger_key.id}").status_code == 404
    assert client.get("/keys/not-a-uuid").status_code == 404


def header_actions(page: str) -> str:
    return page.split('class="page-header"')[1].split("</div>\n</div>")[0]


def test_the_key_page_rolls_and_expires_like_the_list(client, logged_in, make_key):
    key, _ = make_key(logged_in, "Production")
    page = client.get(f"/keys/{key.id}").text
    crumb = page.split('aria-label="Breadcrumb"')[1].split("</nav>")[0]
    assert 'href="/keys/">API keys</a> / <span aria-current="page"' in crumb
    assert "Production</span>" in crumb
    actions = header_actions(page)
    assert f'href="/keys/{key.id}/roll"' in actions
    assert f'href="/keys/{key.id}/expire?back=key"' in actions  # asks first, on its own page

    confirm = client.get(f"/keys/{key.id}/expire?back=key").text
    assert "Expire “Production” now?" in confirm
    assert '<input type="hidden" name="back" value="key">' in confirm
    assert f'href="/keys/{key.id}" class="text-break">Production</a>' in confirm  # breadcrumb
    token = csrf_token(client, f"/keys/{key.id}/expire?back=key")
    expired = client.post(f"/keys/{key.id}/expire", data={"csrf_token": token, "back": "key"})
    assert expired.status_code == 303 and expired.headers["Location"] == f"/keys/{key.id}"
    db.session.expire_all()
    stopped = db.session.get(ApiKey, key.id).revoked_at
    page = client.get(f"/keys/{key.id}").text
    assert "never" not in page.split('data-testid="key-expiry">')[1].split("</dd>")[0]
    assert f"{stopped:%Y-%m-%d}" in page.split('data-testid="key-expiry">')[1].split("</dd>")[0]
    assert '<dt class="col-5">Expired</dt>' in page and 'data-testid="key-stopped"' in page
    actions = header_actions(page)  # a key that stopped working offers nothing more
    assert "/roll" not in actions and "/expire" not in actions and "/edit" not in actions
    assert "Expired <time" in client.get("/keys/").text  # the list's Expires column too


def test_the_key_page_roll_links_the_pair(client, logged_in, make_key):
    key, _ = make_key(logged_in, "Production")
    token = csrf_token(client, f"/keys/{key.id}/roll")
    rolled = client.post(f"/keys/{key.id}/roll", data={"grace": "1h", "csrf_token": token})
    assert rolled.status_code == 303
    db.session.expire_all()
    successor = db.session.get(ApiKey, db.session.get(ApiKey, key.id).replaced_by_id)
    old_page = client.get(f"/keys/{key.id}").text
    assert f'data-testid="rolled-to"><code>{successor.prefix}' in old_page
    assert f'href="/keys/{key.id}/roll"' not in header_actions(old_page)  # rolled already
    assert f'href="/keys/{key.id}/expire?back=key"' in header_actions(old_page)  # still works
    new_page = client.get(f"/keys/{successor.id}").text
    assert f'data-testid="rolled-from"><code>{key.prefix}' in new_page


def test_support_viewing_the_key_page_may_only_expire(client, auth, logged_in, make_key, support):
    key, _ = make_key(logged_in, "Production")
    auth.logout()
    auth.login(support)
    start_viewing(client, logged_in)
    actions = header_actions(client.get(f"/keys/{key.id}").text)
    assert f"/keys/{key.id}/expire?back=key" in actions
    assert "/roll" not in actions and "/edit" not in actions


def test_a_rolled_pair_sits_together_in_the_list(client, logged_in, make_key):
    now = utcnow()
    first, _ = make_key(logged_in, "first")
    middle, _ = make_key(logged_in, "middle")
    for n, key in enumerate((first, middle)):  # made a day apart, oldest first
        key.created_at = now - timedelta(days=3 - n)
    db.session.commit()
    token = csrf_token(client, f"/keys/{first.id}/roll")
    client.post(f"/keys/{first.id}/roll", data={"grace": "1h", "csrf_token": token})
    db.session.expire_all()
    successor = db.session.get(ApiKey, db.session.get(ApiKey, first.id).replaced_by_id)
    page = client.get("/keys/").text
    rows = re.findall(r'<tr id="key-([0-9a-f-]+)"', page)
    assert rows == [str(successor.id), str(first.id), str(middle.id)]
