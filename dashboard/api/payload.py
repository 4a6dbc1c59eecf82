"""Reading a call's body: bounded, strict JSON, and storable on both databases.

Refused as `invalid_json` (400), the same on SQLite and PostgreSQL: a body that is not UTF-8,
not JSON, not an object, NaN/Infinity or numbers too large for a double, strings with \\u0000
(PostgreSQL's JSONB cannot store NUL) or lone surrogates (not valid Unicode text), and
nesting deeper than MAX_DEPTH levels.
"""

import json
import math

from flask import current_app, request

from dashboard.models.types import MAX_DEPTH, unstorable


class PayloadTooLarge(Exception):
    """The body is larger than API_MAX_BODY_BYTES."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is larger than the {limit:,} bytes we accept.")
        self.limit = limit


class InvalidJson(Exception):
    """The body is not a storable JSON object; the message says why."""


def read_body() -> bytes:
    """The raw body, refused by Content-Length before reading and by a bounded read after."""
    limit = current_app.config["API_MAX_BODY_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(limit)
    return raw


def parse_object(raw: bytes) -> dict:
    """The body as a JSON object, or InvalidJson."""
    if not raw.strip():
        raise InvalidJson("The body is empty: send the tool's input as a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJson(f"The body is not valid UTF-8 (byte {error.start}).") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise InvalidJson(
            f"The body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except RecursionError:
        raise InvalidJson(f"The body is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError as error:  # NaN, Infinity, huge numbers
        raise InvalidJson(f"The body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InvalidJson(f"The body must be a JSON object, not {_json_type(value)}.")
    problem = unstorable(value)
    if problem:
        raise InvalidJson(problem)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:30]} is too large.")
    return number


def _json_type(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
