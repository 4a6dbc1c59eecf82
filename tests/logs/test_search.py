"""The search box (`status:422 tool:echo free text`) and the removable filter chips."""

import html
import re
import urllib.parse
from datetime import timedelta

import pytest
from werkzeug.datastructures import MultiDict

from dashboard.logs.filters import parse_filters
from dashboard.models import utcnow
from tests.logs.conftest import log_ids


def chip_links(page: str) -> dict[str, dict[str, list[str]]]:
    """{aria-label of each chip's remove link: the query it leads to}."""
    found = re.findall(r'<a class="log-chip-remove" href="([^"]*)"[^>]*aria-label="([^"]*)"', page)
    return {
        html.unescape(label): urllib.parse.parse_qs(
            urllib.parse.urlsplit(html.unescape(href)).query
        )
        for href, label in found
    }


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("status:422", {"http": "422"}),
        ("status:error tool:echo", {"status": "error", "tool": "echo"}),
        ("status:refused", {"status": "rejected"}),
        ("version:v2 timed out", {"version": "v2", "q": "timed out"}),
        ('code:invalid_input "a: b"', {"code": "invalid_input", "q": "a: b"}),
        ("since:24h source:playground", {"since": "24h", "source": "playground"}),
        ("from:2026-01-02 to:2026-01-03", {"from": "2026-01-02", "to": "2026-01-03"}),
        ("plain words only", {"q": "plain words only"}),
        ("Error: boom", {"q": "Error: boom"}),  # a colon before a space is text, not a term
    ],
)
def test_search_terms_become_the_list_parameters(app, logged_in, typed, expected):
    filters = parse_filters(MultiDict({"q": typed}), logged_in)
    assert filters.problems == []
    assert filters.query_args() == expected


def test_a_term_overrides_the_control_and_keeps_the_others(app, logged_in):
    args = MultiDict({"q": "status:success", "status": "error", "tool": "echo"})
    filters = parse_filters(args, logged_in)
    assert filters.query_args() == {"status": "success", "tool": "echo"}


def test_key_term_takes_the_prefix_or_the_name(app, logged_in, key):
    for written in (key.prefix, f"{key.prefix}…", "Production", str(key.id)):
        filters = parse_filters(MultiDict({"q": f"key:{written}"}), logged_in)
        assert filters.key_id == key.id, written
    stranger = parse_filters(MultiDict({"q": "key:tk_live_nobody"}), logged_in)
    assert stranger.key_id is None
    assert stranger.problems == ["That key is not one of your keys; the key filter was ignored."]


def test_unknown_term_is_a_form_error_not_a_500(client, call):
    call(status="error", error="boom: it broke", code="tool_error")
    response = client.get("/logs/?q=foo:bar+status:error")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="filter-problems"' in page
    assert "“foo” is not a filter" in page and "“foo:bar” was ignored" in page
    assert 'id="log-q" name="q"' in page and 'aria-invalid="true"' in page
    assert 'value="foo:bar status:error"' in page  # what was typed, to correct
    assert len(log_ids(page)) == 1  # the known term still applies


@pytest.mark.parametrize("typed", ["status:bogus", "status:999", "since:2y", "from:yesterday"])
def test_a_bad_value_in_a_term_is_the_filter_own_error(client, call, typed):
    call()
    response = client.get("/logs/", query_string={"q": typed})
    assert response.status_code == 200
    assert 'data-testid="filter-problems"' in response.get_data(as_text=True)


def test_search_without_javascript_redirects_to_the_shareable_address(client, call):
    call(status="error", error="boom", code="tool_error")
    response = client.get("/logs/", query_string={"q": "status:error tool:echo boom"})
    assert response.status_code == 303
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert location.path == "/logs/"
    assert urllib.parse.parse_qs(location.query) == {
        "status": ["error"],
        "tool": ["echo"],
        "q": ["boom"],
    }


def test_search_with_htmx_answers_the_fragment_and_pushes_the_address(client, call):
    call(status="error", error="boom", code="tool_error", version="v2")
    call()
    response = client.get("/logs/?q=status%3Aerror+version%3Av2", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert response.headers["HX-Push-Url"] == "/logs/?version=v2&status=error"
    assert len(log_ids(body)) == 1
    # The form comes along out of band, so the chips follow the list.
    assert 'id="log-filters"' in body and 'hx-swap-oob="true"' in body
    assert "Remove filter status error" in body
    assert 'id="log-summary" hx-swap-oob="innerHTML"' in body


def test_each_applied_filter_is_a_chip_that_removes_exactly_itself(client, call, key):
    call(status="error", error="boom", code="tool_error", version="v2")
    day = utcnow().date()
    query = {
        "status": "error",
        "tool": "echo",
        "version": "v2",
        "key": str(key.id),
        "code": "tool_error",
        "http": "500",
        "since": "7d",
        "from": (day - timedelta(days=1)).isoformat(),
        "to": day.isoformat(),
        "source": "api",
        "q": "boom",
    }
    page = client.get("/logs/", query_string=query).get_data(as_text=True)
    chips = chip_links(page)
    removed = {
        "Remove filter status error": "status",
        "Remove filter status 500": "http",
        "Remove filter tool echo": "tool",
        "Remove filter version v2": "version",
        "Remove filter key Production": "key",
        "Remove filter code tool_error": "code",
        "Remove filter period last 7 days": "since",
        f"Remove filter from {query['from']}": "from",
        f"Remove filter to {query['to']}": "to",
        "Remove filter source api": "source",
    }
    assert set(chips) == set(removed)
    for label, param in removed.items():
        left = {name: [value] for name, value in query.items() if name != param}
        assert chips[label] == left, label


def test_no_chips_without_filters_and_the_box_has_no_placeholder(client, call):
    call()
    page = client.get("/logs/").get_data(as_text=True)
    assert 'data-testid="filter-chips"' not in page
    start = page.index('id="log-filters"')
    form = page[start : page.index("</form>", start)]
    assert "placeholder" not in form
    assert '<label class="form-label small" for="log-q">Search calls</label>' in form
    assert "<summary" in form and "More filters" in form


def test_free_text_that_looks_like_a_term_survives_the_links(client, call):
    call(status="error", error="see https://example.com/x", code="tool_error")
    first = client.get("/logs/", query_string={"q": '"https://example.com"'})
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and 'data-testid="filter-problems"' not in page
    assert len(log_ids(page)) == 1
    # Links keep the text quoted, so following them searches the same words.
    again = client.get("/logs/", query_string={"q": '"https://example.com"', "status": "error"})
    assert 'data-testid="filter-problems"' not in again.get_data(as_text=True)
    assert len(log_ids(again.get_data(as_text=True))) == 1


def test_the_error_cell_is_one_line_and_the_detail_has_it_whole(client, call):
    message = "Upstream said no. " * 30
    log_id = call(status="error", error=message, code="tool_error")
    page = client.get("/logs/").get_data(as_text=True)
    [shown] = re.findall(
        r'class="log-error-line"[^>]*>.*?<span class="text-body-secondary">(.*?)</span>', page
    )
    assert shown.endswith("…") and len(shown) <= 161  # the start of it, kept to one line by CSS
    detail = client.get(f"/logs/{log_id}").get_data(as_text=True)
    assert message.strip() in html.unescape(detail)
