"""Log lines: JSON objects in production (python-json-logger with msgspec), readable text in
development.

Every line carries the request id (`request_id`, "-" outside a request). With LOG_REQUESTS on,
each request ends with one line: method, route, path, status and duration; but a successful
tool call's only with LOG_METERED_CALLS on (its tool_logs row, with the same id, and the metrics
record it already). Nothing from the
request's headers, query string or body is logged (they carry keys, passwords and payloads),
nor the tokens of emailed links in a path (`/password/reset/<token>` is logged with the token
replaced by `[redacted]`): a log reader must not be able to reset a password.
"""

import logging
import sys

from flask import Flask, current_app, g, request
from flask.logging import default_handler
from pythonjsonlogger.msgspec import MsgspecFormatter

from dashboard.observability import request_ids

HANDLER_NAME = "toolbox"
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
JSON_DATES = "%Y-%m-%dT%H:%M:%S%z"
JSON_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}
request_logger = logging.getLogger("dashboard.requests")
# URL arguments that are secrets: the tokens of emailed links (dashboard/auth/links.py).
SECRET_ARGUMENTS = frozenset({"token"})
REDACTED = "[redacted]"


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.logger.removeHandler(default_handler)  # app lines go to the root logger's handler
    if app.config["LOG_REQUESTS"]:
        app.after_request(log_request if app.config["LOG_METERED_CALLS"] else log_unmetered)


class RequestIdFilter(logging.Filter):
    """Puts the request id (and a proxy's own id, when it was not ours) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_ids.current_request_id() or "-"
        proxy_id = request_ids.proxy_request_id()
        if proxy_id:
            record.proxy_request_id = proxy_id
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test's capture, gunicorn's)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format == "json":
        # python-json-logger's msgspec encoder (msgspec comes with Flask-Session): the standard
        # library's encoder made a request's log line cost about a third of a bare answer.
        return MsgspecFormatter(
            JSON_FIELDS,
            rename_fields=JSON_RENAMED,
            datefmt=JSON_DATES,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: str, level: str) -> None:
    """One handler on the root logger, in `log_format` ("json" or "text"), at `level`."""
    if log_format not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {log_format!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter_for(log_format))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # No format of ours shows threads or processes: don't collect them for every record (the
    # logging HOWTO's "Optimization").
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def log_request(response):
    """One line per request: what was asked and how it was answered (never its contents)."""
    elapsed = request_ids.seconds_since_start()
    asked = request._get_current_object()  # one lookup, not one per field
    rule = asked.url_rule.rule if asked.url_rule is not None else None
    status = response.status_code
    path = loggable_path()
    request_logger.info(
        "%s %s %s",
        asked.method,
        path,
        status,
        extra={
            "method": asked.method,
            "route": route_label(rule),
            "path": asked.script_root + path,
            "status": status,
            "duration_ms": None if elapsed is None else round(elapsed * 1000, 2),
        },
    )
    return response


def log_unmetered(response):
    """log_request, except for a successful tool call (the gateway marks it `g.metered_call`)."""
    if response.status_code < 400 and g.get("metered_call"):
        return response
    return log_request(response)


def route_label(rule: str | None) -> str:
    """The URL rule as the app is mounted (`/api/v1/tools/<name>`), or `unmatched`."""
    return request.script_root + rule if rule is not None else "unmatched"


def loggable_path() -> str:
    """The request's path with every secret URL argument replaced by [redacted].

    A matched route names its arguments; a path that matched nothing (a token link with
    something appended, a wrong method) is cut after the fixed start of any secret route."""
    path = request.path
    arguments = request.view_args
    if request.url_rule is not None and arguments is not None:
        for name in SECRET_ARGUMENTS & arguments.keys():
            path = path.replace(str(arguments[name]), REDACTED)
        return path
    for start in secret_route_starts():
        if path.startswith(start) and len(path) > len(start):
            return start + REDACTED
    return path


def secret_route_starts() -> tuple[str, ...]:
    """The fixed start (`/password/reset/`) of each of this app's routes with a secret argument."""
    starts = current_app.extensions.get("secret_route_starts")
    if starts is None:
        starts = tuple(
            rule.rule.partition("<")[0]
            for rule in current_app.url_map.iter_rules()
            if rule.arguments & SECRET_ARGUMENTS
        )
        current_app.extensions["secret_route_starts"] = starts
    return starts
