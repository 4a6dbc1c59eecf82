"""How the API answers: its JSON shapes (msgspec Structs, from which the OpenAPI document
derives their schemas), JSON errors, Server-Timing and rate-limit headers on every answer."""

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

import msgspec
from flask import current_app, g
from msgspec import UNSET, UnsetType

from dashboard.api.codes import ErrorCode
from dashboard.usage.service import Count, DateTimeText

# Keys sorted, as Flask's jsonify wrote them (it also escaped non-ASCII text, which is UTF-8 here).
ENCODER = msgspec.json.Encoder(order="sorted")


def json_response(shape: msgspec.Struct, status: int = 200, headers=None):
    """A shape as the JSON answer (with jsonify's closing newline)."""
    body = ENCODER.encode(shape) + b"\n"
    return current_app.response_class(
        body, status=status, headers=headers, mimetype="application/json"
    )


class CallUsage(msgspec.Struct, forbid_unknown_fields=True):
    tokens: Count
    execution_time_ms: Count


class CallAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """A tool call's answer: the tool's output, the call's usage, and its log id."""

    # `output` is the tool's JSON as encoded once (stored, counted, answered: never again); the
    # document gives it each tool's own output schema.
    tool: str
    version: str
    output: Annotated[msgspec.Raw, msgspec.Meta(extra_json_schema={"type": "object"})]
    usage: CallUsage
    request_id: uuid.UUID


class Health(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["ok"]


class SchemaError(msgspec.Struct, forbid_unknown_fields=True):
    path: Annotated[str, msgspec.Meta(description="JSON Pointer into the input.")]
    message: str


class ErrorDetail(msgspec.Struct, forbid_unknown_fields=True):
    """What went wrong: the code and a message, and for some codes the fields below."""

    code: ErrorCode
    message: str
    request_id: (
        Annotated[
            uuid.UUID, msgspec.Meta(description="The call's log id, for errors that are logged.")
        ]
        | UnsetType
    ) = UNSET
    errors: list[SchemaError] | UnsetType = UNSET
    limit: (
        Annotated[
            int,
            msgspec.Meta(
                ge=0,
                description="quota_exceeded: the plan's monthly calls; output_too_large: the "
                "output limit (bytes of JSON); memory_limit_exceeded: the memory cap (bytes); "
                "too_many_leak_reports: the tokens one report may name; rate_limit_above_plan: "
                "the plan's highest rate limit a minute.",
            ),
        ]
        | UnsetType
    ) = UNSET
    used: (
        Annotated[int, msgspec.Meta(ge=0, description="quota_exceeded: calls this month.")]
        | UnsetType
    ) = UNSET
    resets_at: DateTimeText | UnsetType = UNSET


class Error(msgspec.Struct, forbid_unknown_fields=True):
    error: ErrorDetail


class ApiError(Exception):
    """An answer `{"error": {"code", "message", ...}}` with the code's status; raised, then
    rendered by the API app's error handler. `extra` are ErrorDetail's other fields, `errors`
    given as {path, message} dicts."""

    def __init__(self, code: ErrorCode, message: str, headers=None, **extra) -> None:
        super().__init__(message)
        self.status = code.status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        if "errors" in extra:
            extra["errors"] = [SchemaError(**error) for error in extra["errors"]]
        self.detail = ErrorDetail(code, message, **extra)

    def response(self):
        """The JSON answer for this error."""
        return json_response(Error(self.detail), self.status, self.headers)


@dataclass
class Timing:
    """Where one API request spent its time, for the Server-Timing header."""

    started: float = field(default_factory=time.perf_counter)
    tool_ms: float = 0.0
    db_ms: float = 0.0

    @contextmanager
    def database(self):
        """Count the time spent inside the block as database time."""
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.db_ms += (time.perf_counter() - begin) * 1000

    def header(self) -> str:
        """`gateway;dur=…, tool;dur=…, db;dur=…`: the gateway's own time is what is left."""
        total_ms = (time.perf_counter() - self.started) * 1000
        own_ms = max(0.0, total_ms - self.tool_ms - self.db_ms)
        return f"gateway;dur={own_ms:.2f}, tool;dur={self.tool_ms:.2f}, db;dur={self.db_ms:.2f}"


def start_timing() -> Timing:
    """Start the clock for this request (and forget any window a previous request left in g)."""
    g.api_rate_window = None
    g.api_timing = Timing()
    return g.api_timing


def timing() -> Timing:
    """This request's clock (started before the view ran)."""
    return g.get("api_timing") or start_timing()


def answer_headers() -> list[tuple[str, str]]:
    """Server-Timing, and the rate-limit headers once the key's limits are known
    (g.api_rate_window: a call_limits.Verdict)."""
    window = g.get("api_rate_window")
    headers = window.headers() if window is not None else []
    headers.append(("Server-Timing", timing().header()))
    return headers
