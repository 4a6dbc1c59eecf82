"""The errors inbox: fingerprints, groups that agree with a GROUP BY, the page and its links."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.api.fingerprint import fingerprint, normalise
from dashboard.extensions import db
from dashboard.inbox import service
from dashboard.keys.service import create_key
from dashboard.models import ToolLog, utcnow


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Tool timed out after 3000 ms", "Tool timed out after 2950 ms"),
        ("unknown field 'colour'", "unknown field 'size'"),
        ('bad value "x y z" at 3', 'bad value "q" at 12'),
        (
            "no row 5f3a9c1e-1111-2222-3333-444455556666",
            "no row 0b7e2f00-aaaa-bbbb-cccc-000011112222",
        ),
        ("request req_8Hx2kq91 failed", "request req_0000aaaa failed"),
        ("ratio 0.25 over  limit", "ratio 12,000.5 over limit"),
    ],
)
def test_messages_that_differ_only_in_values_share_a_fingerprint(first, second):
    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Tool timed out after 3000 ms", "Upstream returned 502"),
        ("unknown field 'colour'", "missing field 'colour'"),
    ],
)
def test_different_messages_have_different_fingerprints(first, second):
    assert fingerprint(first) != fingerprint(second)


def test_normalise_keeps_the_words():
    assert normalise("Tool timed out after 3000 ms") == "Tool timed out after <n> ms"
    assert normalise("'text' is a required property") == "'?' is a required property"
    assert len(fingerprint("x")) == 16 and fingerprint(None) == fingerprint("")


MESSAGES = [
    ("tool_error", "Tool timed out after {n} ms"),
    ("tool_error", "Upstream model returned {n} Bad Gateway"),
    ("invalid_input", "The input does not match the schema at /text: '{n}' is not a string"),
    ("invalid_json", "Expecting value: line {n} column 1"),
]


def make_errors(call, keys, count=40):
    """`count` failed calls spread over tools, versions, keys, messages and days."""
    now = utcnow()
    for n in range(count):
        code, message = MESSAGES[n % len(MESSAGES)]
        call(
            api_key=keys[n % len(keys)],
            tool=("echo", "keywords")[n % 2],
            version=("v1", "v2")[(n // 2) % 2],
            status="error",
            code=code,
            error=message.format(n=1000 + n * 7),
            at=now - timedelta(days=n % 5, minutes=n + 1),
        )
        if n % 3 == 0:
            call(api_key=keys[0], at=now - timedelta(minutes=n + 1))  # successes are not grouped


def test_groups_equal_a_group_by_over_the_same_rows(app, call, key, logged_in):
    second, _ = create_key(logged_in, "Staging")
    make_errors(call, [key, second])
    groups = service.error_groups(logged_in)

    expected = db.session.execute(
        sa.select(
            ToolLog.tool_name,
            ToolLog.tool_version,
            ToolLog.error_code,
            ToolLog.error_fingerprint,
            sa.func.count(),
            sa.func.min(ToolLog.created_at),
            sa.func.max(ToolLog.created_at),
            sa.func.count(sa.distinct(ToolLog.api_key_id)),
        )
        .where(ToolLog.status == "error")
        .group_by(
            ToolLog.tool_name, ToolLog.tool_version, ToolLog.error_code, ToolLog.error_fingerprint
        )
    ).all()
    got = {(*g.identity, g.count, g.first_seen, g.last_seen, len(g.key_ids)): g for g in groups}
    assert set(got) == {tuple(row) for row in expected}
    assert sum(g.count for g in groups) == 40
    for group in groups:
        sample = db.session.get(ToolLog, group.sample_log_id)
        assert sample.created_at == group.last_seen and sample.error_message == group.message
        assert sum(group.days) == group.count  # every call is within 14 days here
    assert [g.last_seen for g in groups] == sorted((g.last_seen for g in groups), reverse=True)


def test_the_inbox_page_and_its_fragment(client, call, logged_in):
    assert 'data-testid="no-errors"' in client.get("/errors/").text
    call(status="error", code="tool_error", error="Tool timed out after 3000 ms")
    call(status="error", code="tool_error", error="Tool timed out after 2999 ms")
    page = client.get("/errors/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and 'aria-current="page">Errors' in body
    assert body.count('class="error-group ') == 1 and 'data-count="2"' in body
    assert "Tool timed out after 2999 ms" in body  # the latest message
    fragment = client.get("/errors/", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'data-count="2"' in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_each_groups_logs_link_shows_exactly_its_calls(client, call, key, logged_in):
    make_errors(call, [key], count=24)
    page = client.get("/errors/").text
    cards = re.findall(
        r'data-count="(\d+)">.*?href="(/logs/\?[^"]+)" data-testid="group-count"', page, re.S
    )
    assert len(cards) == len(service.error_groups(logged_in)) > 1
    for count, link in cards:
        listing = client.get(link.replace("&amp;", "&")).text
        assert len(re.findall(r'data-log-id="', listing)) == int(count), link


def test_the_inbox_is_scoped_to_its_owner(client, call, make_user, auth):
    call(status="error", code="tool_error", error="secret failure of user one")
    auth.logout()
    auth.login(make_user())
    assert "secret failure" not in client.get("/errors/").text


def test_sparkline_bars_scale_to_the_peak():
    bars = service.sparkline_points([0, 5, 10])
    assert [b["height"] for b in bars] == [0, 12.0, 24.0]


def test_the_period_narrows_the_groups_and_their_links(client, call, key, logged_in):
    make_errors(call, [key], count=24)  # spread over the last 5 days
    today = service.error_groups(logged_in, days=1)
    everything = service.error_groups(logged_in, days=0)
    assert sum(g.count for g in today) < sum(g.count for g in everything) == 24
    assert service.parse_period("7", 90).days == 7 and service.parse_period("13", 90).days == 30
    page = client.get("/errors/?days=1").text
    assert 'aria-current="true">Today' in page
    for count, link in re.findall(r'data-count="(\d+)">.*?href="(/logs/\?[^"]+)"', page, re.S):
        assert f"from={utcnow().date().isoformat()}" in link
        listing = client.get(link.replace("&amp;", "&")).text
        assert len(re.findall(r'data-log-id="', listing)) == int(count)


def period_links(page: str) -> list[str]:
    """The labels of the period choices, in order."""
    nav = page.split('aria-label="Period"')[1].split("</nav>")[0]
    return [label.strip() for label in re.findall(r">([^<>]+)</a>", nav)]


def active_period(page: str) -> str:
    return re.search(r'aria-current="true">([^<]+)</a>', page).group(1)


@pytest.mark.parametrize(
    ("plan", "offered", "default"),
    [
        ("free", ["Today", "All 7 days"], "All 7 days"),
        ("pro", ["Today", "7 days", "30 days", "All 90 days"], "30 days"),
        ("scale", ["Today", "7 days", "30 days", "90 days", "All 365 days"], "30 days"),
    ],
)
def test_only_periods_within_the_plans_retention_are_offered(
    client, auth, make_user, plan, offered, default
):
    auth.login(make_user(plan=plan))
    page = client.get("/errors/").text
    assert period_links(page) == offered and active_period(page) == default
    assert 'data-testid="period-note"' not in page


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("days", ["30", "90", "365"])
def test_a_period_longer_than_the_retention_is_cut_with_a_note(client, logged_in, days, htmx):
    response = client.get(f"/errors/?days={days}", headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == 200 and ("<html" in response.text) != htmx
    assert active_period(response.text) == "All 7 days"
    note = response.text.split('data-testid="period-note">')[1].split("</p>")[0]
    assert note == (
        "Your plan keeps logs for 7 days, so the errors of the last 7 days are shown "
        f"instead of {days}."
    )


def test_periods_read_from_the_url(client, logged_in):
    assert service.parse_period("7", 7) == service.Period(0)  # as long as the retention: all
    assert service.parse_period("90", 90) == service.Period(0)
    assert service.parse_period("13", 7).note.endswith("instead of 13.")  # beyond: cut
    assert service.parse_period("13", 90) == service.Period(30)  # not offered: the default
    assert service.parse_period("1", 7) == service.Period(1)
    assert service.parse_period(None, 365) == service.Period(30)
    for junk in ("-1", "99999999999999999999", "%00", "7.0"):
        response = client.get("/errors/", query_string={"days": junk})
        assert response.status_code == 200 and active_period(response.text) == "All 7 days"


@pytest.mark.parametrize("days", ["", "1", "7"])
def test_a_groups_logs_lead_back_to_the_group(client, call, key, logged_in, days):
    make_errors(call, [key], count=8)
    inbox = client.get(f"/errors/?days={days}").text
    cards = re.findall(
        r'<li class="error-group [^"]*" id="([^"]+)".*?href="(/logs/\?[^"]+)"', inbox, re.S
    )
    assert cards
    for anchor, link in cards:
        logs = client.get(link.replace("&amp;", "&")).text
        origin = logs.split('data-testid="group-origin">')[1].split("</nav>")[0]
        back = re.search(r'href="([^"]+)">← Errors</a>', origin).group(1).replace("&amp;", "&")
        assert back.endswith(f"#{anchor}")
        assert back.split("#")[0] == ("/errors/" if days in ("", "7") else f"/errors/?days={days}")
        assert f'id="{anchor}"' in client.get(back.split("#")[0]).text
    assert 'data-testid="group-origin"' not in client.get("/logs/?status=error").text
