"""What a tool version is: its schemas, an example and what runs it.

Three kinds share this one description: "builtin" (dashboard/tools/builtin/), "plugin" (a Python
package declaring tools through the `toolbox.tools` entry point group) and "upstream" (an HTTP
service the operator runs, defined in the `tools` table; `upstream` says where and how).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import format_datetime

from jsonschema import Draft202012Validator

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


KINDS = ("builtin", "plugin", "upstream")
# A tool version's deadline may not come near gunicorn's default worker timeout (30 s).
MAX_DEADLINE = 15.0


class InputRefused(Exception):
    """An input the schema allows but the tool will not take, because its cost grows faster
    than its size past a limit: answered 422 invalid_input, the message naming the limit."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path  # a JSON pointer into the input
        self.message = message


class OutputTooLarge(Exception):
    """An output larger than its tool version's limit (max_output_bytes, else
    TOOL_MAX_OUTPUT_BYTES), in bytes of compact JSON: answered 422 output_too_large. A tool may
    raise it before making the output, when it can tell the output would be at least `size`."""

    def __init__(self, limit: int, size: int, estimated: bool = False) -> None:
        at_least = "at least " if estimated else ""
        super().__init__(
            f"the output would be {at_least}{size:,} bytes, more than the limit of {limit:,} "
            f"bytes of JSON" + (" (estimated before it was made)" if estimated else "")
        )
        self.limit = limit
        self.size = size
        self.estimated = estimated


def output_size(output) -> int | None:
    """Bytes of the output's compact JSON (as the gateway answers and stores it), or None when
    it is not JSON (the gateway then reports that)."""
    try:
        text = json.dumps(output, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Upstream:
    """Where an upstream tool version is served and how it is called."""

    url: str
    timeout_ms: int  # the whole call: connect, send, wait, read
    secret_ref: str | None = None  # a name in UPSTREAM_SECRETS; the signing key
    max_concurrency: int = 8  # calls in flight to this version, per worker process


@dataclass(frozen=True, eq=False)
class ToolVersion:
    """One callable version of a tool, as listed in the catalog and served by the gateway.

    Compared by identity (eq=False): each is a registry singleton, and so hashable.
    """

    name: str
    version: str
    title: str
    description: str
    input_schema: dict
    output_schema: dict
    example_input: dict
    run: Callable[[dict], dict] | None = field(default=None, repr=False)
    kind: str = "builtin"
    upstream: Upstream | None = None
    # The hard wall-clock limit of one run in the tool pool; None: TOOL_DEADLINE_SECONDS.
    deadline_seconds: float | None = None
    # The largest output in bytes of compact JSON; None: TOOL_MAX_OUTPUT_BYTES.
    max_output_bytes: int | None = None
    # False: run in the request's thread even when TOOL_ISOLATION is on (only for tools whose
    # cost is bounded by their schema and measured cheaper in process; see docs/reliability.md).
    isolated: bool = True
    # Its life, for the changelog (/docs/changelog) and the deprecation headers: the day it was
    # released; the day it was deprecated (calls then carry `Deprecation` and `Sunset`); the
    # day it is retired (from then on calls answer 410 tool_version_retired); what replaces it.
    released_on: date | None = None
    deprecated_on: date | None = None
    sunset_on: date | None = None
    replacement: str | None = None  # a version of the same tool, e.g. "v2"
    # (name, value) of `Deprecation` (RFC 9745) and `Sunset` (RFC 8594), made once here so
    # that the hot path only copies them; empty for a version that is not deprecated.
    deprecation_headers: tuple[tuple[str, str], ...] = field(
        init=False, default=(), repr=False, compare=False
    )
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)
    # Upstream answers are checked against the output schema (our own tools are trusted).
    output_validator: Draft202012Validator | None = field(
        init=False, default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Check both schemas once and compile the input validator for every later call."""
        Draft202012Validator.check_schema(self.input_schema)
        Draft202012Validator.check_schema(self.output_schema)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if (self.kind == "upstream") != (self.upstream is not None):
            raise ValueError("an upstream tool, and only one, says where its upstream is")
        if self.kind != "upstream" and self.run is None:
            raise ValueError(f"{self.name} {self.version} has nothing to run")
        if self.deadline_seconds is not None and not 0 < self.deadline_seconds <= MAX_DEADLINE:
            raise ValueError(f"deadline_seconds must be above 0 and at most {MAX_DEADLINE}")
        if self.max_output_bytes is not None and self.max_output_bytes <= 0:
            raise ValueError("max_output_bytes must be above 0")
        if self.sunset_on is not None and self.deprecated_on is None:
            raise ValueError("a version with a sunset date is deprecated first (deprecated_on)")
        if self.sunset_on is not None and self.sunset_on < self.deprecated_on:
            raise ValueError("sunset_on may not come before deprecated_on")
        if self.replacement is not None and self.replacement == self.version:
            raise ValueError("a version cannot replace itself")
        object.__setattr__(self, "deprecation_headers", deprecation_headers(self))
        object.__setattr__(self, "validator", Draft202012Validator(self.input_schema))
        if self.kind == "upstream":
            object.__setattr__(self, "output_validator", Draft202012Validator(self.output_schema))

    @property
    def endpoint_path(self) -> str:
        """Where the gateway serves this version."""
        return f"/api/v1/tools/{self.name}/{self.version}"

    def retired(self, today: date) -> bool:
        """Whether its sunset date has come: calls to it then answer 410."""
        return self.sunset_on is not None and today >= self.sunset_on

    @property
    def version_number(self) -> int:
        """The version as a number, so v10 sorts after v9."""
        return int(self.version.removeprefix("v"))


def midnight(day: date) -> datetime:
    """The start of a day in UTC: when a deprecation or a sunset takes effect."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def deprecation_headers(tool: ToolVersion) -> tuple[tuple[str, str], ...]:
    """`Deprecation: @<unix seconds>` (RFC 9745) and, with a sunset date, `Sunset: <HTTP-date>`
    (RFC 8594), both at the start of their day in UTC; nothing for a version not deprecated."""
    if tool.deprecated_on is None:
        return ()
    headers = [("Deprecation", f"@{int(midnight(tool.deprecated_on).timestamp())}")]
    if tool.sunset_on is not None:
        headers.append(("Sunset", format_datetime(midnight(tool.sunset_on), usegmt=True)))
    return tuple(headers)


def text_schema(description: str, max_length: int = 20_000, min_length: int = 1) -> dict:
    """The schema of a bounded text property."""
    return {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        "description": description,
    }


def object_schema(properties: dict, required: list[str]) -> dict:
    """A closed object schema in the 2020-12 dialect."""
    return {
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def well_formed(text: str) -> str:
    """Replace lone surrogates (legal in JSON escapes, not in UTF-8) with U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
