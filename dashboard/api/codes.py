"""Every error code the JSON API answers, with its HTTP status and what it means.

One list: the gateway raises these, the OpenAPI document lists them per operation, and a test
holds the API page's error table (docs/api.md) to it.
"""

from enum import StrEnum

from dashboard.tools.upstream import Failure


class ErrorCode(StrEnum):
    """An error code of the API; each is always answered with the same HTTP status."""

    status: int
    meaning: str

    def __new__(cls, value: str, status: int, meaning: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.meaning = meaning
        return member

    INVALID_JSON = (
        "invalid_json",
        400,
        "The body is not a JSON object we can store (not UTF-8, not an object, NaN or "
        "Infinity, \\u0000, lone surrogates, nesting deeper than 64).",
    )
    BAD_REQUEST = ("bad_request", 400, "The request could not be understood.")
    INVALID_MONTH = ("invalid_month", 400, "`month` is not YYYY-MM or is out of range.")
    MISSING_API_KEY = ("missing_api_key", 401, "No key was sent.")
    INVALID_API_KEY = ("invalid_api_key", 401, "No such key.")
    EXPIRED_API_KEY = ("expired_api_key", 401, "The key's expiry time has passed.")
    REVOKED_API_KEY = (
        "revoked_api_key",
        401,
        "The key was revoked, rolled past its grace period, or its account is disabled.",
    )
    ROOT_KEY_REQUIRED = (
        "root_key_required",
        401,
        "A management route was called without a root key (`tk_root_…`); API keys call tools.",
    )
    API_KEY_REQUIRED = (
        "api_key_required",
        401,
        "A tool route was called with a root key; root keys manage, API keys call tools.",
    )
    MISSING_SIGNATURE = (
        "missing_signature",
        401,
        "A leak report came without Github-Public-Key-Identifier and Github-Public-Key-Signature.",
    )
    INVALID_SIGNATURE = (
        "invalid_signature",
        401,
        "A leak report's signature does not verify with the public key it names, or it names "
        "no key of LEAK_REPORT_PUBLIC_KEYS.",
    )
    IP_NOT_ALLOWED = ("ip_not_allowed", 403, "The key may not be used from this address.")
    INSUFFICIENT_SCOPE = (
        "insufficient_scope",
        403,
        "The root key lacks the scope this route needs (`required_scope` names it).",
    )
    TOOL_NOT_ALLOWED = ("tool_not_allowed", 403, "The key may not call this tool.")
    NOT_FOUND = ("not_found", 404, "No such endpoint.")
    KEY_NOT_FOUND = ("key_not_found", 404, "The account has no API key with this id.")
    WEBHOOK_NOT_FOUND = (
        "webhook_not_found",
        404,
        "The account has no webhook endpoint with this id.",
    )
    UNKNOWN_TOOL = ("unknown_tool", 404, "No such tool is served.")
    UNKNOWN_VERSION = (
        "unknown_version",
        404,
        "The tool has no such version, or it was switched off.",
    )
    TOOL_VERSION_RETIRED = (
        "tool_version_retired",
        410,
        "The tool version's sunset date has passed: call its replacement (see /docs/changelog).",
    )
    METHOD_NOT_ALLOWED = (
        "method_not_allowed",
        405,
        "The endpoint does not take this method (`Allow` lists those it does).",
    )
    KEY_LIMIT_REACHED = (
        "key_limit_reached",
        409,
        "The plan's working keys are all in use: expire one first.",
    )
    WEBHOOK_LIMIT_REACHED = (
        "webhook_limit_reached",
        409,
        "The account has as many webhook endpoints as it may (10): delete one first.",
    )
    RATE_LIMIT_ABOVE_PLAN = (
        "rate_limit_above_plan",
        409,
        "A key's rate_limit_per_minute above the plan's maximum (`limit` names it).",
    )
    KEY_NOT_ACTIVE = ("key_not_active", 409, "Only an active key can be rolled.")
    IDEMPOTENCY_IN_PROGRESS = (
        "idempotency_in_progress",
        409,
        "A request with this Idempotency-Key is still being answered; retry in a moment.",
    )
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413, "The body is larger than API_MAX_BODY_BYTES.")
    TOO_MANY_LEAK_REPORTS = (
        "too_many_leak_reports",
        413,
        "A leak report names more tokens than LEAK_REPORT_MAX_TOKENS (`limit`); send smaller "
        "batches. Nothing in it was acted on.",
    )
    INVALID_INPUT = (
        "invalid_input",
        422,
        "The input does not match the tool's schema; `errors` lists each violation.",
    )
    INVALID_PARAMETERS = (
        "invalid_parameters",
        422,
        "A field of a management request is missing or wrong; `errors` lists each.",
    )
    INVALID_WEBHOOK_URL = (
        "invalid_webhook_url",
        422,
        "A webhook endpoint's URL is refused, as the webhooks page refuses it: not http(s), "
        "malformed, with a user name or password, or (unless WEBHOOK_ALLOW_PRIVATE) a private, "
        "loopback or link-local address.",
    )
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        422,
        "This Idempotency-Key was used with a different request (method, path or body).",
    )
    OUTPUT_TOO_LARGE = (
        "output_too_large",
        422,
        "The tool's output for this input would be larger than the version's limit "
        "(TOOL_MAX_OUTPUT_BYTES unless the tool sets its own); `limit` is the limit in bytes "
        "of JSON; logged.",
    )
    MEMORY_LIMIT_EXCEEDED = (
        "memory_limit_exceeded",
        422,
        "The tool needed more memory than TOOL_MEMORY_MB for this input and was stopped; "
        "`limit` is the cap in bytes; logged.",
    )
    RATE_LIMITED = ("rate_limited", 429, "The key's per-minute rate limit; see `Retry-After`.")
    QUOTA_EXCEEDED = ("quota_exceeded", 429, "The plan's monthly quota; see `Retry-After`.")
    KEY_QUOTA_EXCEEDED = (
        "key_quota_exceeded",
        429,
        "The key's own monthly cap of calls; see `Retry-After` and `X-Key-Quota-Limit`.",
    )
    IDEMPOTENCY_KEYS_EXHAUSTED = (
        "idempotency_keys_exhausted",
        429,
        "The root key holds IDEMPOTENCY_KEYS_MAX kept answers of the last "
        "IDEMPOTENCY_KEEP_HOURS; a new Idempotency-Key waits for the oldest to leave (see "
        "`Retry-After`).",
    )
    CONCURRENCY_LIMITED = (
        "concurrency_limited",
        429,
        "The account already has as many calls in flight as its plan allows; see `Retry-After`.",
    )
    TOOL_ERROR = (
        "tool_error",
        500,
        "The tool failed while running or its process died; logged.",
    )
    UPSTREAM_ERROR = (
        "upstream_error",
        502,
        "An upstream tool's service failed, answered too much, or broke its output schema.",
    )
    UPSTREAM_UNAVAILABLE = (
        "upstream_unavailable",
        503,
        "An upstream tool's circuit breaker is open or its calls-in-flight cap is full.",
    )
    TOOL_TIMEOUT = (
        "tool_timeout",
        504,
        "The tool ran past its deadline (and was stopped); the call is logged.",
    )
    INTERNAL_ERROR = ("internal_error", 500, "The gateway itself failed; nothing was metered.")
    DATABASE_UNAVAILABLE = ("database_unavailable", 503, "The database cannot be reached.")
    RATE_LIMITER_UNAVAILABLE = (
        "rate_limiter_unavailable",
        503,
        "Redis cannot be reached and RATELIMIT_FAIL_OPEN is false.",
    )


# How the gateway answers each way an upstream tool's call fails (dashboard/tools/upstream.py).
UPSTREAM_CODES = {
    Failure.REFUSED: ErrorCode.INVALID_INPUT,
    Failure.ERROR: ErrorCode.UPSTREAM_ERROR,
    Failure.TIMEOUT: ErrorCode.TOOL_TIMEOUT,
    Failure.UNAVAILABLE: ErrorCode.UPSTREAM_UNAVAILABLE,
}


def codes_by_status(*codes: ErrorCode) -> dict[int, list[ErrorCode]]:
    """The codes grouped by their status, statuses in ascending order."""
    grouped: dict[int, list[ErrorCode]] = {}
    for code in sorted(codes, key=lambda c: c.status):
        grouped.setdefault(code.status, []).append(code)
    return grouped
