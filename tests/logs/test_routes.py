import csv
import io
import uuid
from datetime import timedelta

import pytest

from dashboard.api.metering import record_call
from dashboard.keys.service import create_key
from dashboard.logs.service import PAGE_SIZE
from dashboard.models import utcnow
from dashboard.paging import encode_cursor
from tests.logs.conftest import link, log_ids

NOW = utcnow().replace(microsecond=0)


def minutes_ago(n: int):
    return NOW - timedelta(minutes=n)


@pytest.mark.parametrize(
    "url", ["/logs/", "/logs/export.csv", f"/logs/{uuid.uuid4()}", "/logs/newer?newest=x"]
)
def test_logs_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_list_shows_the_columns_newest_first(client, call, key):
    older = call(at=minutes_ago(5), tool="sentiment", version="v2", ms=1234, tokens=4321)
    newer = call(
        at=minutes_ago(1),
        status="error",
        error="Input does not match the schema: 'message' is a required property " + "x" * 200,
        code="invalid_input",
    )
    page = client.get("/logs/").get_data(as_text=True)
    assert log_ids(page) == [str(newer), str(older)]
    assert "sentiment" in page and ">v2<" in page
    assert "1,234 ms" in page and "4,321" in page
    assert "Production" in page and f"{key.prefix}…" in page
    assert "invalid_input" in page
    assert "Input does not match the schema" in page
    assert "x" * 200 + "</span>" not in page  # the cell shows only the start…
    assert "xxxx…</span>" in page
    when = minutes_ago(1)
    assert f'<time datetime="{when:%Y-%m-%dT%H:%M:%S}' in page  # relative, exact on hover


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tool=keywords", {"kw"}),
        ("version=v2", {"v2"}),
        ("status=error", {"err", "err-timeout"}),
        ("status=success", {"kw", "v2", "old", "staging"}),
        ("q=TIMEOUT", {"err-timeout"}),  # case-insensitive
        ("q=100%25", {"err"}),  # % is literal
        ("q=a_b", set()),  # _ is literal: "a_b" does not match "axb"
        ("tool=echo&status=error", {"err", "err-timeout"}),
        ("tool=echo&status=error&q=timeout", {"err-timeout"}),
        ("status=success&version=v1&tool=echo", {"old", "staging"}),
    ],
)
def test_each_filter_and_their_combinations(client, call, query, expected):
    ids = {
        "kw": call(tool="keywords", at=minutes_ago(2)),
        "v2": call(version="v2", at=minutes_ago(3)),
        "err": call(status="error", error="Quota 100% used; axb", at=minutes_ago(4)),
        "err-timeout": call(status="error", error="Tool timed out (Timeout)", at=minutes_ago(5)),
        "old": call(at=minutes_ago(60 * 24 * 3)),
        "staging": call(at=minutes_ago(6)),
    }
    names = {str(v): k for k, v in ids.items()}
    page = client.get(f"/logs/?{query}").get_data(as_text=True)
    assert {names[i] for i in log_ids(page)} == expected
    assert "filter-problems" not in page


def test_key_filter_offers_and_accepts_only_own_keys(client, call, key, logged_in, make_user):
    other_own, _ = create_key(logged_in, "Staging")
    mine = call(api_key=other_own)
    call()
    stranger = make_user()
    foreign, _ = create_key(stranger, "Not yours")
    page = client.get(f"/logs/?key={other_own.id}").get_data(as_text=True)
    assert log_ids(page) == [str(mine)]
    assert f'value="{key.id}"' in page and f'value="{other_own.id}"' in page
    assert str(foreign.id) not in page and "Not yours" not in page

    refused = client.get(f"/logs/?key={foreign.id}").get_data(as_text=True)
    assert "not one of your keys" in refused
    assert len(log_ids(refused)) == 2  # the foreign key filter is ignored, own logs stay


def test_date_range_in_utc_days(client, call):
    day = (NOW - timedelta(days=2)).replace(hour=0, minute=0, second=0)
    first = call(at=day)  # 00:00:00 of the day: inside
    last = call(at=day + timedelta(hours=23, minutes=59, seconds=59))  # inside
    call(at=day - timedelta(seconds=1))  # the day before
    call(at=day + timedelta(days=1))  # the day after
    d = day.date().isoformat()
    assert log_ids(client.get(f"/logs/?from={d}&to={d}").get_data(as_text=True)) == [
        str(last),
        str(first),
    ]
    only_from = log_ids(client.get(f"/logs/?from={d}").get_data(as_text=True))
    assert len(only_from) == 3
    only_to = log_ids(client.get(f"/logs/?to={d}").get_data(as_text=True))
    assert len(only_to) == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=maybe", "Status must be success, error or rejected"),
        ("from=2025-13-45", "The from date must look like 2025-01-31"),
        ("to=yesterday", "The to date must look like 2025-01-31"),
        ("from=2025-02-01&to=2025-01-01", "The from date is after the to date"),
        ("key=not-a-uuid", "not one of your keys"),
        (f"key={uuid.uuid4()}", "not one of your keys"),
        ("after=garbage!!", "page link is broken"),
        ("before=" + "A" * 10, "page link is broken"),
        ("after=" + encode_cursor(NOW, uuid.uuid4())[:-3] + "zzz", "page link is broken"),
        ("q=" + "x" * 201, "error search filter is too long"),
    ],
)
def test_bad_filters_are_explained_and_ignored(client, call, query, message):
    call()
    response = client.get(f"/logs/?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-testid="filter-problems"' in page
    assert message in page
    assert len(log_ids(page)) == 1  # the bad value is ignored, not applied


def test_tampered_cursor_with_a_valid_shape(client, call):
    import base64

    call()
    forged = base64.urlsafe_b64encode(b"2025-01-01T00:00:00+05:00|nope").decode()
    page = client.get(f"/logs/?after={forged}").get_data(as_text=True)
    assert "page link is broken" in page


def walk(client, url, rel):
    """Follow the pager from `url` in direction `rel`; every page's ids."""
    pages = []
    while url:
        html = client.get(url).get_data(as_text=True)
        pages.append(log_ids(html))
        url = link(html, rel)
    return pages, html


def test_pages_forward_and_back_across_ties(client, call, key):
    tie = NOW - timedelta(minutes=3, milliseconds=250)
    ids = [call(at=tie) for _ in range(PAGE_SIZE + 30)]  # all at the same instant
    ids += [call(at=tie + timedelta(seconds=1)) for _ in range(10)]
    ids += [call(at=tie - timedelta(seconds=1)) for _ in range(15)]
    # Newest first; ties broken by id, descending (uuid order, as both databases sort it).
    expected = (
        sorted(map(str, ids[PAGE_SIZE + 30 : PAGE_SIZE + 40]), reverse=True)
        + sorted(map(str, ids[: PAGE_SIZE + 30]), reverse=True)
        + sorted(map(str, ids[PAGE_SIZE + 40 :]), reverse=True)
    )
    pages, last = walk(client, "/logs/", "next")
    assert [len(p) for p in pages] == [50, 50, 5]
    assert [log_id for page in pages for log_id in page] == expected
    assert link(last, "next") is None
    assert 'data-testid="newer-hint"' in last

    back, first = walk(client, link(last, "prev"), "prev")
    assert back == [pages[1], pages[0]]
    assert link(first, "prev") is None  # the newest page has no newer page


def test_filtered_pages_keep_the_filters(client, call):
    for n in range(PAGE_SIZE + 5):
        call(status="error", error=f"boom {n}", at=minutes_ago(10 + n))
        call(at=minutes_ago(10 + n))
    first = client.get("/logs/?status=error").get_data(as_text=True)
    older = link(first, "next")
    assert "status=error" in older
    second = client.get(older).get_data(as_text=True)
    assert len(log_ids(second)) == 5
    assert "status=error" in link(second, "prev")


def test_newer_calls_hint_on_later_pages(client, call):
    for n in range(PAGE_SIZE + 1):
        call(at=minutes_ago(10 + n))
    first = client.get("/logs/").get_data(as_text=True)
    assert 'data-testid="newer-hint"' not in first
    assert 'id="log-newer"' in first  # the first page asks, every 30 s, whether calls arrived
    second = client.get(link(first, "next")).get_data(as_text=True)
    assert 'data-testid="newer-hint"' in second


def test_newer_fragment_says_when_calls_arrived(client, call):
    top = call(at=minutes_ago(5))
    since = client.get("/logs/").get_data(as_text=True)
    cursor = since.split("/logs/newer?newest=")[1].split('"')[0]
    htmx = {"HX-Request": "true"}
    quiet = client.get(f"/logs/newer?newest={cursor}", headers=htmx)
    assert "newer-arrived" not in quiet.get_data(as_text=True)
    call(at=minutes_ago(1))
    arrived = client.get(f"/logs/newer?newest={cursor}", headers=htmx)
    assert "newer-arrived" in arrived.get_data(as_text=True)
    assert "<html" not in arrived.get_data(as_text=True)
    assert arrived.headers["Vary"].startswith("HX-Request")
    filtered = client.get(f"/logs/newer?newest={cursor}&status=error", headers=htmx)
    assert "newer-arrived" not in filtered.get_data(as_text=True)
    plain = client.get(f"/logs/newer?newest={cursor}&status=error")
    assert plain.status_code == 302
    assert plain.headers["Location"].endswith("/logs/?status=error")
    garbage = client.get("/logs/newer?newest=%%%", headers=htmx)
    assert garbage.status_code == 200
    assert top


def test_list_fragment_for_htmx_and_page_for_history_restore(client, call):
    call(status="error", error="boom")
    fragment = client.get("/logs/?status=error&tool=", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and len(log_ids(body)) == 1
    assert fragment.headers["HX-Push-Url"] == "/logs/?status=error"
    assert "HX-Request" in fragment.headers["Vary"]
    restore = client.get(
        "/logs/?status=error",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.get_data(as_text=True)
    full = client.get("/logs/?status=error").get_data(as_text=True)
    assert "<html" in full and 'id="log-filters"' in full
    assert '<option value="error" selected>' in full


def test_empty_state_without_calls_shows_a_first_curl(client, logged_in):
    page = client.get("/logs/").get_data(as_text=True)
    assert 'data-testid="no-calls"' in page
    assert "curl -X POST http://localhost/api/v1/tools/echo/v1" in page
    assert "Bearer $TOOLBOX_API_KEY" in page


def test_empty_state_when_nothing_matches_offers_to_clear(client, call):
    call()
    page = client.get("/logs/?tool=nothing-like-this").get_data(as_text=True)
    assert 'data-testid="no-match"' in page
    assert 'href="/logs/">Clear filters' in page


def test_only_own_logs_are_listed_shown_and_exported(client, call, make_user):
    mine = call()
    stranger = make_user()
    their_key, _ = create_key(stranger, "Theirs")
    theirs = record_call(
        user_id=stranger.id,
        api_key_id=their_key.id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "secret"},
        output_payload=None,
        status="success",
        execution_time_ms=1,
        tokens_used=1,
    )
    assert log_ids(client.get("/logs/").get_data(as_text=True)) == [str(mine)]
    assert client.get(f"/logs/{theirs}").status_code == 404
    assert client.get(f"/logs/{theirs}", headers={"HX-Request": "true"}).status_code == 404
    assert client.get("/logs/not-a-uuid").status_code == 404
    export = client.get("/logs/export.csv").get_data(as_text=True)
    assert str(theirs) not in export and str(mine) in export


def test_retention_hides_older_logs(client, call):
    # The free plan keeps 7 days.
    kept = call(at=NOW - timedelta(days=6, hours=23))
    gone = call(at=NOW - timedelta(days=7, minutes=1))
    assert log_ids(client.get("/logs/").get_data(as_text=True)) == [str(kept)]
    assert client.get(f"/logs/{gone}").status_code == 404
    assert str(gone) not in client.get("/logs/export.csv").get_data(as_text=True)


def test_detail_page_and_fragment(client, call, key):
    log_id = call(
        status="error",
        error="Boom <script>alert(1)</script> at line 3\n" + "y" * 300,
        code="tool_error",
        payload={"message": "<script>alert('x')</script>", "b": 1, "a": [1, 2]},
        output={"z": "it's"},
    )
    response = client.get(f"/logs/{log_id}?back=status%3Derror%26after%3Dabc%26evil%3D1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "{\n  &#34;a&#34;: [\n    1,\n    2\n  ],\n  &#34;b&#34;: 1," in page  # indent=2, sorted
    assert "y" * 300 in page  # the whole error message
    assert f'<code id="request-id" class="text-break">{log_id}</code>' in page
    assert 'data-copy-target="#request-id"' in page
    assert "curl -X POST http://localhost/api/v1/tools/echo/v1" in page
    assert "-d &#39;" in page  # single-quoted by shlex.quote
    assert 'href="/logs/?status=error&amp;after=abc" data-testid="back-to-logs"' in page
    assert f"{key.prefix}…" in page

    fragment = client.get(f"/logs/{log_id}", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "data-close-panel" in body and "Open full page" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_export_csv_round_trips(client, call, key):
    rows = [
        call(at=minutes_ago(3), status="error", error='Bad "quote", comma\nnewline', code="x"),
        call(at=minutes_ago(2), tool="keywords", version="v2", ms=99, tokens=1000),
        call(at=minutes_ago(1)),
    ]
    response = client.get("/logs/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="tool-logs-{utcnow():%Y-%m-%d}.csv"'
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == [
        "created_at",
        "request_id",
        "tool",
        "version",
        "status",
        "error_code",
        "key_name",
        "key_prefix",
        "execution_time_ms",
        "tokens",
        "error_message",
        "http_status",
        "calls",
        "source",
    ]
    assert [row[1] for row in table[1:]] == [str(r) for r in reversed(rows)]
    assert table[2] == [
        minutes_ago(2).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        str(rows[1]),
        "keywords",
        "v2",
        "success",
        "",
        "Production",
        key.prefix,
        "99",
        "1000",
        "",
        "200",
        "1",
        "api",
    ]
    assert table[3][4:6] == ["error", "x"]
    assert table[3][10] == 'Bad "quote", comma\nnewline'


def test_export_applies_the_filters(client, call):
    call(status="error", error="boom")
    call()
    table = list(csv.reader(io.StringIO(client.get("/logs/export.csv?status=error").text)))
    assert len(table) == 2 and table[1][4] == "error"


def test_export_refuses_bad_filters(client, call):
    response = client.get("/logs/export.csv?status=maybe&from=nope")
    assert response.status_code == 400
    assert "Status must be success, error or rejected" in response.get_data(as_text=True)


def test_list_links_to_export_with_the_filters(client, call):
    call(status="error", error="boom")
    page = client.get("/logs/?status=error&q=bo").get_data(as_text=True)
    assert 'href="/logs/export.csv?status=error&amp;q=bo"' in page
