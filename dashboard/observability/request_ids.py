"""Every request has an id: a trusted proxy's (REQUEST_ID_HEADER) or a new UUID.

The id is answered in `Request-Id` and put on every log line of the request. It is always a
UUID, so that an API call's id can be its tool_logs row's id (the gateway meters with
`request_log_id()`): a proxy's id is taken when it is one (nginx's `$request_id`, 32 hex
digits, is); any other value is kept on the log lines as `proxy_request_id` beside a new id.
"""

import time
import uuid

from flask import Flask, current_app, g, has_request_context, request

from dashboard.models.types import parse_uuid

RESPONSE_HEADER = "Request-Id"


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, note_start)  # before any other hook
    app.after_request(answer_request_id)


def note_start() -> None:
    g.request_started = time.perf_counter()


def seconds_since_start() -> float | None:
    """How long this request has taken so far (None if its start was not seen)."""
    started = g.get("request_started")
    return None if started is None else time.perf_counter() - started


def request_log_id() -> uuid.UUID:
    """This request's id as a UUID (made on first use): the id of the call's log row."""
    request_id = g.get("request_id")
    if request_id is None:
        request_id = g.request_id = incoming_request_id() or uuid.uuid4()
    return request_id


def current_request_id() -> str | None:
    """This request's id as text, or None outside a request."""
    return str(request_log_id()) if has_request_context() else None


def incoming_request_id() -> uuid.UUID | None:
    """The trusted proxy's id for this request, when configured and a UUID."""
    header = current_app.config["REQUEST_ID_HEADER"]
    if not header:
        return None
    value = request.headers.get(header)
    if not value:
        return None
    parsed = parse_uuid(value.strip()[:64])
    if parsed is None:
        g.proxy_request_id = value[:200]
    return parsed


def proxy_request_id() -> str | None:
    """The proxy's own id when it could not be used as ours (not a UUID)."""
    return g.get("proxy_request_id") if has_request_context() else None


def answer_request_id(response):
    response.headers.add(RESPONSE_HEADER, str(request_log_id()))  # set nowhere else
    return response
