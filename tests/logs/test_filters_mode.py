"""The logs' `mode:test` / `mode:live` filter: a call's mode is its key's (api_keys.is_test)."""

import pytest

from dashboard.api.metering import record_rejection
from dashboard.keys.service import create_key
from dashboard.logs.filters import parse_filters
from tests.logs.conftest import log_ids


@pytest.fixture
def test_key(logged_in):
    api_key, _ = create_key(logged_in, "CI", is_test=True)
    return api_key


def test_mode_test_shows_only_the_test_keys_calls_and_mode_live_the_others(
    client, call, key, test_key
):
    live_calls = {str(call()), str(call(status="error", error="boom", code="tool_error"))}
    test_calls = {str(call(api_key=test_key)), str(call(api_key=test_key))}

    searched = client.get("/logs/", query_string={"q": "mode:test"})
    # The search box's term becomes the list's own parameter (the address to share).
    assert searched.status_code == 303 and searched.headers["Location"] == "/logs/?mode=test"
    tested = client.get("/logs/", query_string={"mode": "test"}).get_data(as_text=True)
    assert set(log_ids(tested)) == test_calls
    assert tested.count('data-testid="log-test-badge"') == 2
    assert "Remove filter mode test" in tested
    live = client.get("/logs/", query_string={"mode": "live"}).get_data(as_text=True)
    assert set(log_ids(live)) == live_calls
    assert 'data-testid="log-test-badge"' not in live
    both = client.get("/logs/").get_data(as_text=True)
    assert set(log_ids(both)) == live_calls | test_calls
    # The term and the control name the same filter, whatever the case typed.
    upper = client.get("/logs/", query_string={"q": "mode:TEST"}, follow_redirects=True)
    assert set(log_ids(upper.get_data(as_text=True))) == test_calls
    # With the error search the mode still holds.
    failed = client.get("/logs/", query_string={"q": "mode:test boom"}, follow_redirects=True)
    assert log_ids(failed.get_data(as_text=True)) == []
    failed_live = client.get("/logs/", query_string={"q": "mode:live boom"}, follow_redirects=True)
    assert len(log_ids(failed_live.get_data(as_text=True))) == 1


def test_refused_calls_follow_the_mode_too(client, logged_in, key, test_key):
    for api_key in (key, test_key, test_key):
        record_rejection(
            user_id=logged_in.id, api_key_id=api_key.id, tool_name="echo", reason="rate_limit"
        )
    tested = client.get("/logs/", query_string={"mode": "test"}).get_data(as_text=True)
    assert "2 calls under these filters were refused" in tested
    live = client.get("/logs/", query_string={"mode": "live"}).get_data(as_text=True)
    assert "1 call under these filters was refused" in live


def test_a_bad_mode_is_ignored_and_explained(client, call, test_key, logged_in):
    call()
    call(api_key=test_key)
    response = client.get("/logs/", query_string={"q": "mode:staging"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The mode must be test or live; it was ignored." in page
    assert len(log_ids(page)) == 2
    filters = parse_filters({"mode": "test"}, logged_in)
    assert filters.mode == "test" and filters.query_args() == {"mode": "test"}
