"""Calling upstream tools: the company's own HTTP services behind the gateway.

One call: check the version's circuit breaker and concurrency cap, POST the validated input as
JSON with signed identity headers, read at most UPSTREAM_MAX_RESPONSE_BYTES of the answer before
its deadline, check it against the output schema. Redirects are never followed.

Each way it can end is a typed exception carrying a plain Failure kind, which the gateway maps
to its error code (dashboard/api/codes.py, UPSTREAM_CODES), answers and logs like any other:

    upstream 2xx, a JSON object matching the output schema  -> the output
    upstream 4xx with a JSON error message                  -> refused     422 invalid_input
    upstream 401/403 (it refused our signature)             -> error       502 upstream_error
    upstream 3xx/5xx, non-JSON, too big, schema-violating   -> error       502 upstream_error
    past the version's deadline (or the connect deadline)   -> timeout     504 tool_timeout
    breaker open, or the version's calls-in-flight cap full -> unavailable 503 upstream_unavailable

Tokens: the answer's `X-Toolbox-Tokens` header (a whole number) when present, else the
standard count (dashboard.tools.registry.count_tokens).

Signature (what the upstream checks; see examples/upstream/service.py):

    message = "\\n".join([timestamp, request_id, account_id, key_id, sha256_hex(body)])
    X-Toolbox-Signature: v1=<hex HMAC-SHA256(secret, message)>

The breaker and the cap are kept per worker process: with W workers an upstream sees at most
W x max_concurrency calls at once.
"""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import httpx
from flask import current_app

from dashboard.models.types import unstorable
from dashboard.tools.registry import count_tokens, validation_errors
from dashboard.tools.tool import ToolVersion

TOKENS_HEADER = "X-Toolbox-Tokens"
MAX_TOKENS = 1_000_000_000
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Identity:
    """Who is calling, as the signed headers tell the upstream."""

    account_id: str
    key_id: str
    request_id: str


@dataclass(frozen=True)
class Forwarded:
    """A successful upstream call."""

    output: dict
    execution_ms: int
    tokens: int


class Failure(StrEnum):
    """How an upstream call failed, in the runtime's words; the gateway picks the answer."""

    REFUSED = "refused"  # the upstream refused the input, and said why
    ERROR = "error"  # the upstream failed or answered something we cannot pass on
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"  # breaker open or the calls-in-flight cap full: not tried


class UpstreamFailure(Exception):
    """A call that did not end in an output: answered and logged by the caller."""

    kind = Failure.ERROR

    def __init__(self, message: str, execution_ms: int = 0, log_message: str | None = None):
        super().__init__(message)
        self.message = message
        self.execution_ms = execution_ms
        self.log_message = log_message or message
        self.extra: dict = {}  # more fields of the JSON error


class UpstreamInvalidInput(UpstreamFailure):
    kind = Failure.REFUSED

    def __init__(self, message: str, upstream_message: str, log_message: str) -> None:
        super().__init__(message, log_message=log_message)
        self.extra = {"errors": [{"path": "", "message": upstream_message}]}


class UpstreamError(UpstreamFailure):
    kind = Failure.ERROR


class UpstreamTimeout(UpstreamFailure):
    kind = Failure.TIMEOUT


class UpstreamUnavailable(UpstreamFailure):
    kind = Failure.UNAVAILABLE


def sign(secret: str, timestamp: str, identity: Identity, body: bytes) -> str:
    """The X-Toolbox-Signature value for one call."""
    message = "\n".join(
        [
            timestamp,
            identity.request_id,
            identity.account_id,
            identity.key_id,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(secret: str | None, identity: Identity, body: bytes) -> dict[str, str]:
    """The identity headers, signed when the version has a secret."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Toolbox-Account": identity.account_id,
        "X-Toolbox-Key": identity.key_id,
        "X-Toolbox-Request": identity.request_id,
        "X-Toolbox-Timestamp": timestamp,
    }
    if secret is not None:
        headers["X-Toolbox-Signature"] = sign(secret, timestamp, identity, body)
    return headers


class Breaker:
    """Closed until `threshold` failures in a row; then open (refuse) for `cooldown` seconds;
    then one probe call at a time decides: success closes it, failure opens it again."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False
        self.lock = threading.Lock()

    def allow(self) -> float | None:
        """None when a call may go; else the seconds until the next probe."""
        with self.lock:
            if self.opened_at is None:
                return None
            waited = time.monotonic() - self.opened_at
            if waited < self.cooldown or self.probing:
                return max(0.0, self.cooldown - waited)
            self.probing = True
            return None

    def succeeded(self) -> None:
        with self.lock:
            self.failures, self.opened_at, self.probing = 0, None, False

    def failed(self) -> None:
        with self.lock:
            self.failures += 1
            if self.probing or self.failures >= self.threshold:
                self.opened_at = time.monotonic()
            self.probing = False

    def released(self) -> None:
        """The call ended without saying anything about the upstream's health."""
        with self.lock:
            self.probing = False


class Upstreams:
    """Per worker process: the pooled HTTP client, and each version's breaker and cap."""

    def __init__(self, config) -> None:
        self.config = config
        self.connect_timeout = config["UPSTREAM_CONNECT_TIMEOUT_MS"] / 1000
        self.max_bytes = config["UPSTREAM_MAX_RESPONSE_BYTES"]
        self.client = httpx.Client(
            follow_redirects=False,
            trust_env=False,  # no proxies or .netrc from the environment
            limits=httpx.Limits(
                max_connections=config["UPSTREAM_MAX_CONNECTIONS"],
                max_keepalive_connections=config["UPSTREAM_MAX_CONNECTIONS"],
                keepalive_expiry=30,
            ),
        )
        self.lock = threading.Lock()
        self.breakers: dict[tuple, Breaker] = {}
        self.slots: dict[tuple, threading.BoundedSemaphore] = {}

    def breaker(self, tool: ToolVersion) -> Breaker:
        key = (tool.name, tool.version)
        with self.lock:
            if key not in self.breakers:
                self.breakers[key] = Breaker(
                    self.config["UPSTREAM_BREAKER_FAILURES"],
                    self.config["UPSTREAM_BREAKER_COOLDOWN_SECONDS"],
                )
            return self.breakers[key]

    def slot(self, tool: ToolVersion) -> threading.BoundedSemaphore:
        key = (tool.name, tool.version, tool.upstream.max_concurrency)
        with self.lock:
            if key not in self.slots:
                self.slots[key] = threading.BoundedSemaphore(tool.upstream.max_concurrency)
            return self.slots[key]

    def secret(self, tool: ToolVersion) -> str | None:
        ref = tool.upstream.secret_ref
        if ref is None:
            return None
        secret = self.config["UPSTREAM_SECRETS"].get(ref)
        if secret is None:
            raise UpstreamUnavailable(
                f"{tool.name} {tool.version} is not configured; the failure is logged.",
                log_message=f"secret {ref!r} is not in UPSTREAM_SECRETS",
            )
        return secret

    def close(self) -> None:
        self.client.close()


def upstreams() -> Upstreams:
    """This process's Upstreams, made on first use (after gunicorn forked the worker)."""
    app = current_app._get_current_object()
    found = app.extensions.get("upstreams")
    if found is None:
        found = app.extensions.setdefault("upstreams", Upstreams(app.config))
    return found


def forward(tool: ToolVersion, payload: dict, identity: Identity) -> Forwarded:
    """Call the upstream version with payload (already valid input); its output, or raise."""
    pool = upstreams()
    breaker = pool.breaker(tool)
    wait = breaker.allow()
    if wait is not None:
        raise UpstreamUnavailable(
            f"{tool.name} {tool.version} is failing; calls are refused for {wait:.0f} s "
            "more, then tried again.",
            log_message="circuit breaker open",
        )
    slot = pool.slot(tool)
    if not slot.acquire(blocking=False):
        breaker.released()
        raise UpstreamUnavailable(
            f"{tool.name} {tool.version} has {tool.upstream.max_concurrency} calls in "
            "progress, its limit; try again shortly.",
            log_message="concurrency cap reached",
        )
    started = time.perf_counter()
    try:
        output, tokens = exchange(pool, tool, payload, identity, started)
    except UpstreamFailure as failure:
        failure.execution_ms = elapsed_ms(started)
        if isinstance(failure, UpstreamInvalidInput):
            breaker.succeeded()  # the upstream answered sensibly
        elif isinstance(failure, UpstreamUnavailable):
            breaker.released()
        else:
            breaker.failed()
        raise
    finally:
        slot.release()
    breaker.succeeded()
    return Forwarded(output, elapsed_ms(started), tokens)


def exchange(pool: Upstreams, tool: ToolVersion, payload: dict, identity, started):
    """One HTTP exchange with the upstream: (output, tokens), or an UpstreamFailure."""
    deadline = tool.upstream.timeout_ms / 1000
    label = f"{tool.name} {tool.version}"
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    headers = signed_headers(pool.secret(tool), identity, body)
    timeout = httpx.Timeout(deadline, connect=min(pool.connect_timeout, deadline))
    try:
        with pool.client.stream(
            "POST", tool.upstream.url, content=body, headers=headers, timeout=timeout
        ) as response:
            raw = read_capped(response, pool.max_bytes, started + deadline, label)
    except httpx.TimeoutException as error:
        raise UpstreamTimeout(
            f"{label} did not answer within {tool.upstream.timeout_ms} ms.",
            log_message=f"{type(error).__name__} after {elapsed_ms(started)} ms",
        ) from None
    except httpx.HTTPError as error:
        raise UpstreamError(
            f"{label} could not be reached; the failure is logged.",
            log_message=f"{type(error).__name__}: {error}"[:MAX_MESSAGE],
        ) from None
    return interpret(tool, label, response, raw, payload)


def read_capped(response: httpx.Response, max_bytes: int, deadline: float, label: str) -> bytes:
    """The answer's body, stopping (and closing) past max_bytes or the deadline."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamError(
            f"{label} answered more than {max_bytes:,} bytes.",
            log_message=f"answer of {declared} bytes refused (limit {max_bytes})",
        )
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise UpstreamError(
                f"{label} answered more than {max_bytes:,} bytes.",
                log_message=f"answer cut at {size} bytes (limit {max_bytes})",
            )
        if time.perf_counter() > deadline:
            raise httpx.ReadTimeout("the total deadline passed while reading")
        chunks.append(chunk)
    return b"".join(chunks)


def interpret(tool: ToolVersion, label: str, response: httpx.Response, raw: bytes, payload):
    """(output, tokens) from a complete answer, or the failure it stands for."""
    status = response.status_code
    body = parse_json(raw)
    if status in (401, 403):
        raise UpstreamError(
            f"{label} refused the gateway's signed headers; the failure is logged.",
            log_message=f"upstream answered {status}: {error_message(body) or 'no message'}",
        )
    if 400 <= status < 500:
        message = error_message(body)
        if message is None:
            raise UpstreamError(
                f"{label} refused the call without saying why; the failure is logged.",
                log_message=f"upstream answered {status} without a JSON error",
            )
        raise UpstreamInvalidInput(
            f"{label} refused the input: {message}", message, log_message=f"upstream {status}"
        )
    if not 200 <= status < 300:
        where = response.headers.get("Location", "")
        detail = f" (redirect to {where[:200]}, not followed)" if 300 <= status < 400 else ""
        raise UpstreamError(
            f"{label} failed; the failure is logged.",
            log_message=f"upstream answered {status}{detail}",
        )
    if not isinstance(body, dict):
        raise UpstreamError(
            f"{label} answered something that is not a JSON object; the failure is logged.",
            log_message="upstream answer is not a JSON object",
        )
    problems = output_errors(tool, body)
    if problems:
        first = problems[0]
        raise UpstreamError(
            f"{label} answered an output that does not match its schema; the failure is logged.",
            log_message=f"output schema at {first['path'] or '/'}: {first['message']}"[
                :MAX_MESSAGE
            ],
        )
    return body, tokens_from(response, label, payload, body)


def parse_json(raw: bytes):
    """The JSON value of raw, or None (not JSON, or NaN/Infinity that we cannot answer)."""
    try:
        return json.loads(raw, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return None


def reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def error_message(body) -> str | None:
    """The message of a JSON error: {"error": {"message"}}, {"error": "..."} or {"message"}."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    message = error if isinstance(error, str) else body.get("message")
    if not isinstance(message, str) or not message.strip():
        return None
    return message.strip()[:MAX_MESSAGE]


def output_errors(tool: ToolVersion, output: dict) -> list[dict]:
    """Where the upstream's output breaks the version's output schema (and storability)."""
    problem = unstorable(output)
    if problem:
        return [{"path": "", "message": problem}]
    return validation_errors(tool, output, validator=tool.output_validator)


def tokens_from(response: httpx.Response, label: str, payload: dict, output: dict) -> int:
    """The upstream's own count from X-Toolbox-Tokens, else the standard count."""
    header = response.headers.get(TOKENS_HEADER)
    if header is None:
        return count_tokens(payload, output)
    if not header.strip().isdigit() or int(header) > MAX_TOKENS:
        raise UpstreamError(
            f"{label} answered a token count that is not a whole number; the failure is logged.",
            log_message=f"{TOKENS_HEADER}: {header[:50]!r}",
        )
    return int(header)


def elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
