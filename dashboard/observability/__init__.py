"""What operators watch: request ids, structured logs, Prometheus metrics, health checks.

`init_app(app)` wires request ids, logging and the request metrics into an app; it serves the
dashboard and the JSON API app alike. The health and metrics endpoints are the `observability`
blueprint, registered on the dashboard app only (one place to scrape and probe).
"""

from flask import Flask

from dashboard.observability import logs, metrics, request_ids
from dashboard.observability.request_ids import current_request_id, request_log_id

__all__ = ["current_request_id", "init_app", "request_log_id"]


def init_app(app: Flask) -> None:
    """Give every request an id, log it on every line, and count it in the metrics."""
    logs.init_app(app)
    request_ids.init_app(app)
    metrics.init_app(app)
