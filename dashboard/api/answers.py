"""How the API answers: JSON errors, Server-Timing and rate-limit headers on every answer."""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import g, jsonify

from dashboard.api.codes import ErrorCode


class ApiError(Exception):
    """An answer `{"error": {"code", "message", ...}}` with the code's status; raised, then
    rendered by the API app's error handler."""

    def __init__(self, code: ErrorCode, message: str, headers=None, **extra) -> None:
        super().__init__(message)
        self.status = code.status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra

    def response(self):
        """The JSON answer for this error."""
        body = {"error": {"code": str(self.code), "message": self.message, **self.extra}}
        response = jsonify(body)
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


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
