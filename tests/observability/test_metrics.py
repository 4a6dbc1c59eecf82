"""/metrics: off without a token, refused with a wrong one; counts requests, tool calls,
rate-limit decisions, Redis failures and the database pool."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dashboard.api import metering
from dashboard.extensions import db

TOKEN = "scrape-token-for-tests"
WITH_TOKEN = {"METRICS_TOKEN": TOKEN}


def scrape(client) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} from /metrics."""
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def call(client, secret, tool="echo", body=None):
    return client.post(
        f"/api/v1/tools/{tool}",
        json={"message": "hi"} if body is None else body,
        headers={"X-API-Key": secret},
    )


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("app_overrides", [WITH_TOKEN])
@pytest.mark.parametrize("sent", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN + "x"])
def test_metrics_refuse_a_wrong_token(client, sent):
    headers = {"Authorization": sent} if sent else {}
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert "toolbox_" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("app_overrides", [WITH_TOKEN])
def test_requests_and_tool_calls_are_counted(client, secret):
    before = scrape(client)
    for _ in range(3):
        call(client, secret)
    call(client, secret, body={"message": 1})
    call(client, secret, tool="explode", body={})
    client.get("/login")
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/api/v1/tools/<name>"
    requests = "toolbox_http_request_duration_seconds_count"
    assert grew(requests, route=route, method="POST", status="200") == 3
    assert grew(requests, route=route, method="POST", status="422") == 1
    assert grew(requests, route=route, method="POST", status="500") == 1
    assert grew(requests, route="/login", method="GET", status="200") == 1
    calls = "toolbox_tool_calls_total"
    assert grew(calls, tool="echo", version="v1", outcome="success") == 3
    assert grew(calls, tool="echo", version="v1", outcome="invalid_input") == 1
    assert grew(calls, tool="explode", version="v1", outcome="tool_error") == 1
    runs = "toolbox_tool_run_duration_seconds_count"
    assert grew(runs, tool="echo", version="v1", outcome="success") == 3
    assert grew("toolbox_rate_limit_decisions_total", decision="allowed") == 5
    assert value(after, "toolbox_db_connections_open") >= 1


@pytest.mark.parametrize("app_overrides", [WITH_TOKEN])
def test_refusals_are_counted(client, make_key):
    secret = make_key(rate_limit_per_minute=1)
    before = scrape(client)
    assert [call(client, secret).status_code for _ in range(3)] == [200, 429, 429]
    after = scrape(client)
    refused = ("toolbox_rate_limit_decisions_total", {"decision": "refused"})
    assert value(after, refused[0], **refused[1]) - value(before, refused[0], **refused[1]) == 2


def redis_down(fail_open: bool) -> dict:
    """Settings of both apps (the API app has its own config): Redis unreachable."""
    return {
        **WITH_TOKEN,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1",
        "RATELIMIT_FAIL_OPEN": fail_open,
        "RATELIMIT_RETRY_SECONDS": 60,
    }


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("fail_open", "app_overrides"), [(True, redis_down(True)), (False, redis_down(False))]
)
def test_redis_failures_are_counted(client, secret, fail_open):
    before = scrape(client)
    statuses = [call(client, secret).status_code for _ in range(2)]
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    mode = "open" if fail_open else "closed"
    assert grew("toolbox_rate_limit_storage_failures_total", mode=mode) == 1  # then not asked
    decision = "unlimited" if fail_open else "unavailable"
    assert grew("toolbox_rate_limit_decisions_total", decision=decision) == 2
    assert statuses == ([200, 200] if fail_open else [503, 503])


@pytest.mark.parametrize("app_overrides", [WITH_TOKEN])
def test_metering_failures_are_counted(client, user):
    before = scrape(client)
    with pytest.raises(TypeError):
        metering.record_call_counted(user_id=user.id)  # a write that cannot happen
    db.session.rollback()
    after = scrape(client)
    name = "toolbox_metering_failures_total"
    assert value(after, name) - value(before, name) == 1
