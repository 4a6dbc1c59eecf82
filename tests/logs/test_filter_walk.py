"""The logs list's query string walked: every period with and without the other filters, first
and later pages, plain and htmx, then random combinations of the declared filters (valid values,
bad ones, duplicates and strangers). No combination answers 500, and neither does any link the
answer carries (pager, poll, export, "show refused calls")."""

import re
import uuid
from datetime import date, timedelta
from html import unescape
from itertools import product
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.logs.filters import FILTER_PARAMS, SINCE_PRESETS
from dashboard.models import utcnow
from dashboard.paging import encode_cursor

PERIODS = ["", *SINCE_PRESETS, "2y"]
LINK = re.compile(r'(?:href|hx-get)="(/logs/[^"]*)"')
DETAIL = re.compile(r"^/logs/[0-9a-f-]{36}")
WALK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def walker(client, call, key):
    """walk(params, htmx) GETs /logs/ and every list link of its answer; all must answer."""
    now = utcnow()
    newest = call(at=now - timedelta(minutes=5), status="success")
    call(at=now - timedelta(hours=3), tool="keywords", status="error", error="boom", code="boom")
    call(at=now - timedelta(days=3), status="success")
    call(at=now - timedelta(days=20), status="error", error="old boom")
    seen: set[str] = set()

    def get(url: str, htmx: bool):
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 302, 400), (url, response.status_code)
        return response

    def walk(params, htmx: bool) -> None:
        url = f"/logs/?{urlencode(params)}"
        response = get(url, htmx)
        assert response.status_code == 200, (url, htmx, response.status_code)
        body = response.get_data(as_text=True)
        assert ("<html" in body) != htmx, (url, htmx)
        for url in {unescape(found) for found in LINK.findall(body)} - seen:
            if DETAIL.match(url):
                continue
            seen.add(url)
            get(url, htmx=True)
            if not url.startswith("/logs/newer"):
                get(url, htmx=False)

    walk.key = key
    walk.cursor = encode_cursor(now - timedelta(minutes=5), uuid.UUID(str(newest)))
    return walk


OTHER_FILTERS = [
    {},
    {"status": "error"},
    {"status": "success", "tool": "echo"},
    {"status": "rejected"},
    {"q": "boom", "source": "api"},
    {"from": (date.today() - timedelta(days=7)).isoformat(), "to": date.today().isoformat()},
]


@pytest.mark.parametrize("period", PERIODS)
def test_every_period_with_the_other_filters_pages_and_fragments(walker, period):
    for others, page, htmx in product(OTHER_FILTERS, ["", "after"], [False, True]):
        params = {**others, **({"since": period} if period else {})}
        if page:
            params[page] = walker.cursor
        walker(params, htmx)
    walker({"since": period, "key": str(walker.key.id), "http": "200"}, htmx=False)


def candidates(key_id: str) -> dict:
    """For each declared filter, values a person or a bad link might send."""
    today = date.today()
    values = {
        "tool": ["echo", "keywords", "nope", "x" * 300],
        "version": ["v1", "v9", ""],
        "status": ["success", "error", "rejected", "bogus"],
        "key": [key_id, str(uuid.uuid4()), "not-a-key"],
        "from": [(today - timedelta(days=2)).isoformat(), "2025-13-40", ""],
        "to": [today.isoformat(), (today - timedelta(days=30)).isoformat()],
        "q": ["boom", "%_\\", "é" * 3],
        "code": ["boom", "invalid_input"],
        "http": ["200", "422", "999", "abc"],
        "group": ["0" * 16, "<script>"],
        "since": PERIODS,
        "source": ["api", "playground", "bogus"],
        "mode": ["test", "live", "TEST", "bogus", ""],
    }
    assert set(values) == set(FILTER_PARAMS), "a new filter needs values in this walk"
    return values


@WALK
@given(data=st.data(), htmx=st.booleans(), page=st.sampled_from(["", "after", "before"]))
def test_random_filter_combinations_never_answer_500(walker, data, htmx, page):
    values = candidates(str(walker.key.id))
    params = data.draw(
        st.fixed_dictionaries(
            {}, optional={name: st.sampled_from(choices) for name, choices in values.items()}
        )
    )
    pairs = list(params.items())
    if page:
        pairs.append((page, data.draw(st.sampled_from([walker.cursor, "garbage", ""]))))
    pairs += data.draw(  # a repeated parameter, or one the page does not know
        st.lists(st.sampled_from([("since", "1h"), ("status", "error"), ("page", "2")]), max_size=2)
    )
    walker(pairs, htmx)
