"""Every number on the usage page that counts calls links to exactly those calls."""

import re
from datetime import timedelta

from dashboard.api.metering import record_call, record_rejection
from dashboard.keys.service import create_key
from dashboard.models import utcnow

DRILL = re.compile(r'<a href="([^"]+)" class="drill"[^>]*>([\d,]+)</a>')


def shown_calls(client, link: str) -> int:
    """How many calls the logs page at `link` lists (refused calls: the sum of their counts)."""
    body = client.get(link.replace("&amp;", "&")).text
    if "status=rejected" in link:
        return sum(int(n) for n in re.findall(r'data-rejected-count="(\d+)"', body))
    return len(re.findall(r'data-log-id="', body))


def test_each_count_links_to_logs_that_show_that_many_calls(client, logged_in):
    production, _ = create_key(logged_in, "Production")
    staging, _ = create_key(logged_in, "Staging")
    now = utcnow()
    at = now - timedelta(minutes=10) if now.day > 1 or now.hour else now
    for n in range(14):
        key = (production, staging)[n % 2]
        failed = n % 4 == 0
        record_call(
            user_id=logged_in.id,
            api_key_id=key.id,
            tool_name=("echo", "keywords", "sentiment")[n % 3],
            tool_version="v1",
            input_payload={"n": n},
            output_payload=None if failed else {"ok": True},
            status="error" if failed else "success",
            execution_time_ms=5,
            tokens_used=2,
            error_message="boom" if failed else None,
            error_code="tool_error" if failed else None,
            at=at - timedelta(seconds=n),
        )
    for reason in ("rate_limit", "rate_limit", "quota"):
        record_rejection(
            user_id=logged_in.id, api_key_id=staging.id, tool_name="echo", reason=reason, at=at
        )
    # A test-mode key's calls and refusals: in no number of the page but their own.
    ci, _ = create_key(logged_in, "CI", is_test=True)
    for n in range(5):
        record_call(
            user_id=logged_in.id,
            api_key_id=ci.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"n": n},
            output_payload={"ok": True},
            status="success",
            execution_time_ms=5,
            tokens_used=2,
            at=at - timedelta(seconds=n),
            billable=False,
        )
    record_rejection(
        user_id=logged_in.id, api_key_id=ci.id, tool_name="echo", reason="quota", at=at
    )
    page = client.get("/usage/").text
    links = DRILL.findall(page)
    assert len(links) > 20
    for link, number in links:
        assert shown_calls(client, link) == int(number.replace(",", "")), link
    assert re.search(r'data-testid="stat-calls"><a href="[^"]+" class="drill">14<', page)
    assert re.search(r'class="drill">3</a></div>', page)  # rejected, in total
    assert re.search(
        r'data-testid="stat-test-calls"><a href="[^"]+mode=test[^"]*" class="drill">5<', page
    )
    assert "CI" not in re.search(r'data-testid="by-key".*?</table>', page, re.S).group(0)
