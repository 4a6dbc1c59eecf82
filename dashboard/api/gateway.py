"""The hot path of `POST /api/v1/tools/<name>[/<version>]`, top to bottom:

authenticate -> find the tool -> limit (rate, quota) -> restrictions -> read and validate the
input -> run -> meter -> answer.

Logged (one tool_logs row, both counters): every call that gets past authentication, the tool
lookup and the limits, whatever its outcome: success, ip_not_allowed, tool_not_allowed,
payload_too_large, invalid_json, invalid_input, output_too_large, memory_limit_exceeded,
tool_error (raised, died), tool_timeout (past its deadline, in the tool pool or upstream), and
an upstream tool's
upstream_error and upstream_unavailable. Not logged: 401s (no key), 404s (no such tool; no row
for arbitrary names), and 429s (rate limit, quota, calls in flight), which count in
usage_daily's rejected columns and the refused-calls rows only.
"""

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
from flask import current_app, g, request

from dashboard.alerts.quota import after_metered_call
from dashboard.api import CALL_SOURCE_ENVIRON, metering
from dashboard.api.answers import ApiError, CallAnswer, CallUsage, json_response, timing
from dashboard.api.catalog import active_tools
from dashboard.api.codes import UPSTREAM_CODES, ErrorCode
from dashboard.api.concurrency import RETRY_AFTER_SECONDS, Slot, in_flight
from dashboard.api.connection import give_back_before_waiting
from dashboard.api.credentials import KeyRow, find_key, find_key_again, secret_from_headers
from dashboard.api.payload import InvalidJson, PayloadTooLarge, parse_object, read_body
from dashboard.api.throttle import (
    LimiterUnavailable,
    calls_this_month,
    key_calls_in_month,
    key_limiter,
    saw_calls_this_month,
)
from dashboard.keys.root import is_root_secret
from dashboard.keys.rules import ip_allowed, key_refusal, tool_allowed
from dashboard.models import utcnow
from dashboard.models.types import unstorable
from dashboard.observability import metrics, request_log_id
from dashboard.plans import plan_named
from dashboard.tools.pool import (
    ToolCrashed,
    ToolOutOfMemory,
    ToolRaised,
    ToolTimeout,
    tool_pool,
)
from dashboard.tools.registry import (
    ToolVersion,
    canonical_json,
    count_tokens,
    tokens_for,
    utf8_size,
    validation_errors,
)
from dashboard.tools.tool import InputRefused, OutputTooLarge
from dashboard.tools.upstream import Identity, UpstreamFailure, forward


@dataclass(frozen=True)
class Call:
    """Who is calling which tool from where."""

    key: KeyRow
    tool: ToolVersion
    client_ip: str | None
    # The log row's id, known before the tool runs (upstream tools are told it): the request's
    # id (observability's, answered in Request-Id); a new one outside a request.
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class Encoded:
    """A call's input and output, each encoded to JSON once: stored, counted and answered."""

    input_json: str
    output_json: str
    tokens: int


def call_tool(name: str, version: str | None):
    """Run a tool for an API key and meter the call."""
    key = authenticate()
    tool = find_served_tool(name, version, key)
    if tool.deprecation_headers:
        try:
            return call_deprecated(key, tool)
        except ApiError as error:  # its refusals say it is deprecated too
            error.headers.update(deprecation_headers(tool))
            raise
    return call_served(key, tool)


def call_deprecated(key: KeyRow, tool: ToolVersion):
    """call_served, its answer with the version's deprecation headers."""
    response = call_served(key, tool)
    response.headers.extend(deprecation_headers(tool))
    return response


def deprecation_headers(tool: ToolVersion) -> list[tuple[str, str]]:
    """`Deprecation` and `Sunset` (made once per version) and `Link` to the changelog (RFC
    9745's rel="deprecation"): no query."""
    link = f'<{current_app.config["PUBLIC_URL"].rstrip("/")}/docs/changelog>; rel="deprecation"'
    return [*tool.deprecation_headers, ("Link", link)]


def call_served(key: KeyRow, tool: ToolVersion):
    """Limit, check, run, meter and answer a call of a served version."""
    key, slot = enforce_limits(key, tool)
    with slot:  # one of the account's calls in flight, given back once answered
        enforce_quota(key, tool)
        call = Call(key, tool, request.remote_addr, request_log_id())
        enforce_restrictions(call)
        payload = read_input(call)
        validate(call, payload)
        if tool.kind == "upstream":
            output, execution_ms, tokens = run_upstream(call, payload)
        else:
            output, execution_ms = run(call, payload)
            tokens = None
        encoded = encode(call, payload, output, execution_ms, tokens)
        request_id = meter(call, payload, output, "success", execution_ms, encoded.tokens, encoded)
        return answer(call, encoded, execution_ms, request_id)


def key_for_reading() -> KeyRow:
    """The key for a read-only endpoint (usage): authenticated, rate limited, IP-checked."""
    key, _ = enforce_limits(authenticate(), None)
    if not ip_allowed(key.allowed_ips, request.remote_addr):
        raise ApiError(
            ErrorCode.IP_NOT_ALLOWED, f"This key may not be used from {request.remote_addr}."
        )
    return key


def authenticate(again: bool = False) -> KeyRow:
    """The key row for the request's secret, or 401 missing/invalid/expired/revoked;
    again=True reads the row from the database (the cached one was invalidated)."""
    secret = secret_from_headers(request.headers)
    if secret is None:
        raise ApiError(
            ErrorCode.MISSING_API_KEY,
            "Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
            headers={"WWW-Authenticate": 'Bearer realm="tools-api"'},
        )
    with timing().database():
        key = find_key_again(secret) if again else find_key(secret)
    if key is None:
        if is_root_secret(secret):  # a prefix test, only for a secret no API key has
            raise ApiError(
                ErrorCode.API_KEY_REQUIRED,
                "This is a root key: it manages keys (/api/v1/keys) and calls no tool. "
                "Call tools with an API key.",
            )
        raise ApiError(ErrorCode.INVALID_API_KEY, "This API key does not exist.")
    now = utcnow()
    refusal = key_refusal(key, now)
    if refusal == "expired_api_key":
        raise ApiError(ErrorCode.EXPIRED_API_KEY, f"This API key expired at {iso(key.expires_at)}.")
    if refusal == "revoked_api_key":
        raise ApiError(ErrorCode.REVOKED_API_KEY, revoked_message(key, now))
    if key.is_disabled:
        message = "The account that owns this key is disabled."
        raise ApiError(ErrorCode.REVOKED_API_KEY, message)
    return key


def find_served_tool(name: str, version: str | None, key: KeyRow) -> ToolVersion:
    """The newest served version of `name`, or the pinned one; 404 (not logged) otherwise."""
    with timing().database():
        tools = active_tools()
    tool, problem = tools.resolve(name, version)
    if tool is not None and not tool.retired(utcnow().date()):
        return tool
    g.api_rate_window = key_limiter().check(key, count=False)
    if tool is not None:
        instead = f" Call {tool.replacement} instead." if tool.replacement else ""
        message = f"{name} {tool.version} was retired on {tool.sunset_on:%Y-%m-%d}.{instead}"
        raise ApiError(ErrorCode.TOOL_VERSION_RETIRED, message, headers=deprecation_headers(tool))
    if problem == "unknown_tool":
        message = f"There is no tool called {name!r}. See GET /api/v1/tools."
        raise ApiError(ErrorCode.UNKNOWN_TOOL, message)
    served = ", ".join(sorted(tools.versions[name], key=lambda v: int(v.removeprefix("v"))))
    message = f"{name} has no version {version!r}; served: {served}."
    raise ApiError(ErrorCode.UNKNOWN_VERSION, message)


def enforce_limits(key: KeyRow, tool: ToolVersion | None) -> tuple[KeyRow, Slot]:
    """Count the call against its key's and account's per-minute limits (429 rate_limited) and,
    for a tool call, take one of the account's slots for calls in flight (429
    concurrency_limited): one round trip, neither 429 logged. The key row (read again when the
    dashboard changed it since it was cached) and the slot to give back."""
    limiter = key_limiter()
    asked = None
    if tool is not None:
        asked = in_flight(plan_named(key.subscription_plan), time_limit(tool))
    try:
        verdict = limiter.check(key, in_flight=asked, metered=tool is not None)
    except LimiterUnavailable:
        metrics.rate_limiter_unavailable()
        message = "Rate limiting is unavailable; try again shortly."
        raise ApiError(ErrorCode.RATE_LIMITER_UNAVAILABLE, message) from None
    slot = Slot(
        limiter,
        key.user_id,
        verdict.slot if verdict is not None else None,
        asked.plan if asked is not None else None,
    )
    try:
        if verdict is not None and verdict.invalidated_at >= key.loaded_at:
            key = authenticate(again=True)  # changed since it was cached: judged on the new row
            counted = verdict
            verdict = verdict.judged_again(limiter.check(key, count=False) or verdict)
            if verdict.refused_by is not None:
                limiter.give_back_month(key, counted)  # refused after all: not in the month
        metrics.rate_limit_decided(verdict is None or verdict.refused_by is None, verdict)
        g.api_rate_window = verdict
        if verdict is not None and verdict.refused_by is not None:
            refuse_for_limits(key, tool, verdict)
        if verdict is None and tool is not None and key.monthly_call_cap is not None:
            enforce_cap_without_limiter(key, tool)
    except BaseException:
        slot.give_back()
        raise
    return key, slot


def refuse_for_limits(key: KeyRow, tool: ToolVersion | None, verdict) -> None:
    """Answer 429 for the limit that refused the call, counted (not logged) for a tool call."""
    if verdict.refused_by == "key_quota":
        refuse_for_key_quota(key, tool, verdict.key_cap, verdict.key_month_calls)
    too_many_in_flight = verdict.refused_by in ("in_flight", "plan_in_flight")
    reason = "concurrency" if too_many_in_flight else "rate_limit"
    if tool is not None:
        with timing().database():
            metering.record_rejection(
                user_id=key.user_id, api_key_id=key.id, tool_name=tool.name, reason=reason
            )
    plan = plan_named(key.subscription_plan)
    if too_many_in_flight:
        message = (
            f"The keys of this {plan.title} account may have {plan.max_concurrent_calls} calls "
            f"in flight at once; try again when one has been answered."
        )
        if verdict.refused_by == "plan_in_flight":
            message = (
                f"{plan.title} accounts together may have {plan.plan_concurrent_calls} calls in "
                f"flight at once on this service, and have them now; try again shortly."
            )
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        raise ApiError(ErrorCode.CONCURRENCY_LIMITED, message, headers=headers)
    retry_after = verdict.retry_after()
    if verdict.refused_by == "account":
        message = (
            f"The keys of this {plan.title} account may make {verdict.account.limit} calls a "
            f"minute together; try again in {retry_after} s."
        )
    else:
        message = (
            f"This key may make {verdict.key.limit} calls a minute; try again in {retry_after} s."
        )
    raise ApiError(ErrorCode.RATE_LIMITED, message, headers={"Retry-After": str(retry_after)})


def enforce_cap_without_limiter(key: KeyRow, tool: ToolVersion) -> None:
    """With the rate-limit storage down (failing open), a capped key is held to its cap by the
    database's count instead: one query, and no longer exact (calls in flight are not seen)."""
    month = utcnow().strftime("%Y-%m")
    with timing().database():
        used = key_calls_in_month(key, month)
    if used >= key.monthly_call_cap:
        refuse_for_key_quota(key, tool, key.monthly_call_cap, used)


def refuse_for_key_quota(key: KeyRow, tool: ToolVersion, cap: int, used: int | None) -> None:
    """Answer 429 key_quota_exceeded: the key made its monthly cap of calls (counted, not
    logged)."""
    with timing().database():
        metering.record_rejection(
            user_id=key.user_id, api_key_id=key.id, tool_name=tool.name, reason="key_quota"
        )
    now = utcnow()
    resets = month_end(now)
    used = cap if used is None else used
    raise ApiError(
        ErrorCode.KEY_QUOTA_EXCEEDED,
        f"This key may make {cap:,} calls a month; {used:,} were made in "
        f"{now.strftime('%Y-%m')}. Its cap resets at {iso(resets)}.",
        headers={"Retry-After": str(max(1, int((resets - now).total_seconds())))},
        limit=cap,
        used=used,
        resets_at=iso(resets),
    )


def month_end(now: datetime) -> datetime:
    """The start of the next month (UTC), when monthly quotas and caps reset."""
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1)


def enforce_quota(key: KeyRow, tool: ToolVersion) -> None:
    """Refuse with 429 quota_exceeded once the month's calls reach the plan's quota; test-mode
    keys do not count against it and are not refused by it."""
    if key.is_test:
        return
    plan = plan_named(key.subscription_plan)
    now = utcnow()
    month = now.strftime("%Y-%m")
    with timing().database():
        used = calls_this_month(key.user_id, month)
    if used < plan.monthly_calls:
        return
    key_limiter().give_back_month(key, g.get("api_rate_window"))  # not metered: not counted
    with timing().database():
        metering.record_rejection(
            user_id=key.user_id, api_key_id=key.id, tool_name=tool.name, reason="quota"
        )
    resets = month_end(now)
    raise ApiError(
        ErrorCode.QUOTA_EXCEEDED,
        f"The {plan.title} plan allows {plan.monthly_calls:,} calls a month; {used:,} were "
        f"made in {month}. The quota resets at {iso(resets)}.",
        headers={"Retry-After": str(max(1, int((resets - now).total_seconds())))},
        limit=plan.monthly_calls,
        used=used,
        resets_at=iso(resets),
    )


def enforce_restrictions(call: Call) -> None:
    """The key's optional IP and tool restrictions; 403, logged."""
    if not ip_allowed(call.key.allowed_ips, call.client_ip):
        message = f"This key may not be used from {call.client_ip}."
        refuse(call, None, ErrorCode.IP_NOT_ALLOWED, message)
    if not tool_allowed(call.key.allowed_tools, call.tool.name):
        message = f"This key may not call {call.tool.name}."
        refuse(call, None, ErrorCode.TOOL_NOT_ALLOWED, message)


def read_input(call: Call) -> dict:
    """The body as a JSON object; 413 payload_too_large or 400 invalid_json, logged."""
    try:
        return parse_object(read_body())
    except PayloadTooLarge as error:
        refuse(call, None, ErrorCode.PAYLOAD_TOO_LARGE, str(error))
    except InvalidJson as error:
        refuse(call, None, ErrorCode.INVALID_JSON, str(error))


def validate(call: Call, payload: dict) -> None:
    """The input must match the tool version's schema; 422 invalid_input with every error."""
    errors = validation_errors(call.tool, payload)
    if errors:
        first = errors[0]
        where = f" at {first['path']}" if first["path"] else ""
        message = f"The input does not match the schema{where}: {first['message']}"
        refuse(call, payload, ErrorCode.INVALID_INPUT, message, errors=errors)


def run(call: Call, payload: dict) -> tuple[dict, int]:
    """The tool's output and its run time in ms; 422 invalid_input past one of the tool's own
    limits, 422 output_too_large or memory_limit_exceeded past the version's output limit or
    the memory cap, 500 tool_error when it raises or dies, 504 tool_timeout past its deadline
    (each logged)."""
    started = time.perf_counter()
    try:
        output = run_tool(call.tool, payload)
    except InputRefused as refusal:
        errors = [{"path": refusal.path, "message": refusal.message}]
        message = f"The input is refused at {refusal.path}: {refusal.message}"
        execution_ms = spent_since(started)
        refuse(call, payload, ErrorCode.INVALID_INPUT, message, execution_ms, errors=errors)
    except OutputTooLarge as refusal:
        output_too_large(call, payload, refusal, spent_since(started))
    except ToolOutOfMemory as error:
        execution_ms = spent_since(started)
        megabytes = error.limit_bytes // (1024 * 1024)
        message = (
            f"{call.tool.name} {call.tool.version} needed more memory than the limit of "
            f"{megabytes} MB (TOOL_MEMORY_MB) for this input and was stopped."
        )
        code = ErrorCode.MEMORY_LIMIT_EXCEEDED
        refuse(call, payload, code, message, execution_ms, limit=error.limit_bytes)
    except ToolTimeout as error:
        execution_ms = spent_since(started)
        message = f"{call.tool.name} {call.tool.version} {error}."
        refuse(call, payload, ErrorCode.TOOL_TIMEOUT, message, execution_ms=execution_ms)
    except ToolCrashed as error:
        execution_ms = spent_since(started)
        current_app.logger.error("Tool %s %s: %s", call.tool.name, call.tool.version, error)
        message = f"{call.tool.name} {call.tool.version} failed: {error}."
        refuse(call, payload, ErrorCode.TOOL_ERROR, message, execution_ms=execution_ms)
    except Exception as error:
        tool_failed(call, payload, error, spent_since(started))
    return output, spent_since(started)


def run_tool(tool: ToolVersion, payload: dict) -> dict:
    """Run the tool in the tool pool (TOOL_ISOLATION, for tools that are isolated), under its
    deadline, the memory cap and its output limit; else in this thread (the output's size is
    then checked by encode)."""
    config = current_app.config
    if not (config["TOOL_ISOLATION"] and tool.isolated):
        return tool.run(payload)
    return tool_pool(config).run(tool.run, payload, deadline_of(tool), max_output_of(tool))


def max_output_of(tool: ToolVersion) -> int:
    """The version's own output limit in bytes of JSON, else TOOL_MAX_OUTPUT_BYTES."""
    return tool.max_output_bytes or current_app.config["TOOL_MAX_OUTPUT_BYTES"]


def output_too_large(call: Call, payload: dict, refusal: OutputTooLarge, execution_ms: int):
    """Log and meter an output past the version's limit, then answer 422 output_too_large."""
    message = f"{call.tool.name} {call.tool.version}: {refusal}."
    code = ErrorCode.OUTPUT_TOO_LARGE
    refuse(call, payload, code, message, execution_ms, limit=refusal.limit)


def deadline_of(tool: ToolVersion) -> float:
    """The tool version's own deadline, else TOOL_DEADLINE_SECONDS."""
    return tool.deadline_seconds or current_app.config["TOOL_DEADLINE_SECONDS"]


def time_limit(tool: ToolVersion) -> float:
    """How long a call of the tool may run, in seconds: an upstream's timeout, else the
    deadline (in process, nothing stops it; its slot lapses after this and a margin)."""
    if tool.upstream is not None:
        return tool.upstream.timeout_ms / 1000
    return deadline_of(tool)


def spent_since(started: float) -> int:
    """Milliseconds since `started` (added to the request's tool time), rounded."""
    elapsed_ms = (time.perf_counter() - started) * 1000
    timing().tool_ms += elapsed_ms
    return round(elapsed_ms)


def encode(call: Call, payload: dict, output, execution_ms: int, tokens: int | None) -> Encoded:
    """Encode the input and the output once each; an output that is not a storable JSON
    object is the tool's failure (500 tool_error, logged), one past the version's output
    limit 422 output_too_large (logged). `tokens` is the upstream's own count, when it sent
    one."""
    input_json = canonical_json(payload)
    try:
        output_json = check_output(output)
    except BadToolOutput as error:
        tool_failed(call, payload, error, execution_ms)
    output_bytes, limit = utf8_size(output_json), max_output_of(call.tool)
    if output_bytes > limit:  # run in process, or answered by an upstream
        output_too_large(call, payload, OutputTooLarge(limit, output_bytes), execution_ms)
    if tokens is None:
        tokens = tokens_for(utf8_size(input_json), output_bytes)
    return Encoded(input_json, output_json, tokens)


def tool_failed(call: Call, payload: dict, error: Exception, execution_ms: int):
    """Log and meter a tool's failure, then answer 500 tool_error."""
    if isinstance(error, ToolRaised):  # in a tool process: its traceback came back as text
        tool, version, details = call.tool.name, call.tool.version, error.details
        current_app.logger.error("Tool %s %s failed\n%s", tool, version, details)
    else:
        current_app.logger.error(
            "Tool %s %s failed", call.tool.name, call.tool.version, exc_info=error
        )
    refuse(
        call,
        payload,
        ErrorCode.TOOL_ERROR,
        f"{call.tool.name} {call.tool.version} failed while running; the failure is logged.",
        execution_ms=execution_ms,
        log_message=failure_summary(error),
    )


def answer(call: Call, encoded: Encoded, execution_ms: int, request_id: uuid.UUID):
    """The 200 answer, around the output's JSON text (not encoded again); marked as a metered
    call's for the request log (LOG_METERED_CALLS)."""
    g.metered_call = True
    usage = CallUsage(tokens=encoded.tokens, execution_time_ms=execution_ms)
    output = msgspec.Raw(encoded.output_json)
    return json_response(CallAnswer(call.tool.name, call.tool.version, output, usage, request_id))


def run_upstream(call: Call, payload: dict) -> tuple[dict, int, int]:
    """Forward to the upstream service: (output, run time in ms, tokens); its failures are
    answered and logged (422, 502, 503 or 504; see dashboard/tools/upstream.py)."""
    identity = Identity(str(call.key.user_id), str(call.key.id), str(call.request_id))
    give_back_before_waiting()
    try:
        forwarded = forward(call.tool, payload, identity)
    except UpstreamFailure as failure:
        timing().tool_ms += failure.execution_ms
        refuse(
            call,
            payload,
            UPSTREAM_CODES[failure.kind],
            failure.message,
            execution_ms=failure.execution_ms,
            log_message=failure.log_message,
            **failure.extra,
        )
    timing().tool_ms += forwarded.execution_ms
    return forwarded.output, forwarded.execution_ms, forwarded.tokens


def meter(
    call: Call,
    payload: dict | None,
    output: dict | None,
    status: str,
    execution_ms: int,
    tokens: int,
    encoded: Encoded | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    http_status: int = 200,
    errors: list | None = None,
) -> uuid.UUID:
    """Write the call's log row and counters in one transaction; the log row's id."""
    facts = metering.MeteredCall(
        user_id=call.key.user_id,
        api_key_id=call.key.id,
        tool_name=call.tool.name,
        tool_version=call.tool.version,
        input_payload=payload,
        output_payload=output,
        status=status,
        execution_time_ms=execution_ms,
        tokens_used=tokens,
        error_message=error_message,
        error_code=error_code,
        client_ip=call.client_ip,
        http_status=http_status,
        errors=errors,
        source=request.environ.get(CALL_SOURCE_ENVIRON),
        log_id=call.request_id,
        input_json=encoded.input_json if encoded else None,
        output_json=encoded.output_json if encoded else None,
        billable=not call.key.is_test,
    )
    with timing().database():
        recorded = metering.record(facts)
    metrics.tool_call_metered(call.tool, error_code or status, execution_ms)
    if recorded.month_calls is not None:  # a test key's call leaves the month's count alone
        saw_calls_this_month(call.key.user_id, recorded.month_year, recorded.month_calls)
    # Queues a quota alert when a threshold is crossed, the account's or the key's own.
    after_metered_call(call.key, recorded, g.get("api_rate_window"))
    return recorded.log_id


def refuse(call, payload, code: ErrorCode, message, execution_ms=0, log_message=None, **extra):
    """Log a failed call (status error), then answer the error with its request_id."""
    tokens = count_tokens(payload, {}) if payload is not None else 0
    request_id = meter(
        call,
        payload,
        None,
        "error",
        execution_ms,
        tokens,
        error_code=str(code),
        error_message=log_message or message,
        http_status=code.status,
        errors=extra.get("errors"),
    )
    raise ApiError(code, message, request_id=request_id, **extra)


def revoked_message(key, now: datetime) -> str:
    """Why a revoked key is refused: revoked, or rolled and past its grace period."""
    if key.revoked_at is None and key.grace_ends_at is not None and key.grace_ends_at <= now:
        return f"This API key was replaced; its grace period ended at {iso(key.grace_ends_at)}."
    return "This API key was revoked."


def iso(moment: datetime | None) -> str:
    """A naive UTC time as `2026-03-01T00:00:00Z`."""
    return (moment or utcnow()).replace(microsecond=0).isoformat() + "Z"


def failure_summary(error: Exception) -> str:
    """`Type: message` of a tool's exception, at most 500 characters and storable as TEXT on
    both databases (no NUL, no lone surrogates), even when str(error) itself fails."""
    try:
        text = str(error) if isinstance(error, ToolRaised) else f"{type(error).__name__}: {error}"
    except Exception:
        text = type(error).__name__
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:500]


class BadToolOutput(ValueError):
    """A tool returned something that cannot be answered and stored as a JSON object."""


def check_output(output) -> str:
    """The output's canonical JSON, or BadToolOutput when it is not a storable JSON object: a
    200 must match the OpenAPI document and its log row must be writable on both databases."""
    if not isinstance(output, dict):
        raise BadToolOutput(f"the output is {type(output).__name__}, not a JSON object")
    try:
        text = json.dumps(
            output, separators=(",", ":"), ensure_ascii=False, sort_keys=True, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError) as error:
        raise BadToolOutput(f"the output is not JSON: {error}") from None
    problem = unstorable(output)
    if problem:
        raise BadToolOutput(f"the output cannot be stored: {problem}")
    return text
