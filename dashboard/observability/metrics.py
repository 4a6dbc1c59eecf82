"""Prometheus metrics, counted in every gunicorn worker and added up when scraped.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets and empties it), prometheus-client
keeps each worker's values in files there and `/metrics` adds up all workers' files; without
it (one process: `flask run`, tests) the values live in the process. The names:

- toolbox_http_request_duration_seconds{route,method,status}: every request (its _count is
  the number of requests);
- toolbox_tool_calls_total / toolbox_tool_run_duration_seconds{tool,version,outcome}: every
  metered tool call; outcome is `success` or the error code (tool_error, invalid_input, ...);
- toolbox_metering_failures_total: calls whose log row and counters could not be written;
- toolbox_rate_limit_decisions_total{decision}: allowed, refused, unlimited (Redis down,
  failing open) or unavailable (Redis down, failing closed);
- toolbox_rate_limit_storage_failures_total{mode}: Redis errors, by open/closed failure mode;
- toolbox_db_connections_in_use / toolbox_db_connections_open: the SQLAlchemy pools.
"""

import os
from functools import lru_cache

import prometheus_client
from flask import Flask, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from sqlalchemy import event
from sqlalchemy.pool import Pool

from dashboard.observability import request_ids
from dashboard.observability.logs import route_label

# Seconds: a page is tens of milliseconds, a tool call a few; a slow tool runs up to its deadline.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Histogram(
    "toolbox_http_request_duration_seconds",
    "Time to answer a request, by route, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
TOOL_RUNS = Histogram(
    "toolbox_tool_run_duration_seconds",
    "Time a tool ran for a metered call, by tool, version and outcome.",
    ["tool", "version", "outcome"],
    buckets=LATENCY_BUCKETS,
)
TOOL_CALLS = Counter(
    "toolbox_tool_calls",
    "Metered tool calls, by tool, version and outcome (success or the error code).",
    ["tool", "version", "outcome"],
)
METERING_FAILURES = Counter(
    "toolbox_metering_failures", "Calls whose log row and counters could not be written."
)
RATE_LIMIT_DECISIONS = Counter(
    "toolbox_rate_limit_decisions",
    "Per-key rate-limit decisions: allowed, refused, unlimited (storage down, failing open), "
    "unavailable (storage down, failing closed).",
    ["decision"],
)
RATE_LIMIT_STORAGE_FAILURES = Counter(
    "toolbox_rate_limit_storage_failures",
    "Rate-limit storage (Redis) errors, by failure mode (open: calls go through).",
    ["mode"],
)
DB_CONNECTIONS_IN_USE = Gauge(
    "toolbox_db_connections_in_use",
    "Database connections checked out of the pools.",
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_OPEN = Gauge(
    "toolbox_db_connections_open",
    "Database connections the pools hold open (in use or idle).",
    multiprocess_mode="livesum",
)


def init_app(app: Flask) -> None:
    app.after_request(observe_request)


# The labelled series the hot path counts into, looked up once each (labels() takes a lock and
# checks its values on every call); bounded like the labels themselves.
@lru_cache(maxsize=4096)
def request_series(route: str, method: str, status: int):
    return REQUESTS.labels(route, method, str(status))


@lru_cache(maxsize=4096)
def tool_series(name: str, version: str, outcome: str):
    return TOOL_CALLS.labels(name, version, outcome), TOOL_RUNS.labels(name, version, outcome)


@lru_cache(maxsize=8)
def decision_series(decision: str):
    return RATE_LIMIT_DECISIONS.labels(decision)


def observe_request(response):
    elapsed = request_ids.seconds_since_start()
    if elapsed is not None:
        rule = request.url_rule.rule if request.url_rule is not None else None
        request_series(route_label(rule), request.method, response.status_code).observe(elapsed)
    return response


def tool_call_metered(tool, outcome: str, execution_ms: int) -> None:
    """Count a metered call of `tool` (a ToolVersion) and how long it ran."""
    calls, runs = tool_series(tool.name, tool.version, outcome)
    calls.inc()
    runs.observe(execution_ms / 1000)


def rate_limit_decided(allowed: bool, window) -> None:
    """Count a rate-limit decision; no window means the storage was down and it failed open."""
    if window is None:
        decision_series("unlimited").inc()
    else:
        decision_series("allowed" if allowed else "refused").inc()


def rate_limiter_unavailable() -> None:
    decision_series("unavailable").inc()


@event.listens_for(Pool, "connect")
def _connection_opened(dbapi_connection, connection_record) -> None:
    DB_CONNECTIONS_OPEN.inc()


@event.listens_for(Pool, "close")
def _connection_closed(dbapi_connection, connection_record) -> None:
    DB_CONNECTIONS_OPEN.dec()


@event.listens_for(Pool, "close_detached")
def _detached_connection_closed(dbapi_connection) -> None:
    DB_CONNECTIONS_OPEN.dec()


@event.listens_for(Pool, "checkout")
def _connection_checked_out(dbapi_connection, connection_record, connection_proxy) -> None:
    DB_CONNECTIONS_IN_USE.inc()


@event.listens_for(Pool, "checkin")
def _connection_checked_in(dbapi_connection, connection_record) -> None:
    DB_CONNECTIONS_IN_USE.dec()


def exposition() -> tuple[bytes, str]:
    """The metrics of every worker (or of this process) in Prometheus's text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST
