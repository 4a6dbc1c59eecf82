"""The management API (`/api/v1/keys…`, `/api/v1/account/usage…`): an account's API keys and
usage by code, with a root key (dashboard/keys/root.py).

- Every route names the scope it needs; a root key without it gets 403 `insufficient_scope`.
  An API key here gets 401 `root_key_required`; a root key on a tool route gets 401
  `api_key_required` (gateway.authenticate).
- Writes take an `Idempotency-Key` header: the first answer is kept (per root key) and a retry
  gets it again, so a retried create never makes a second key. A secret is never kept: a
  replayed create or roll answers the same key with `secret: null` and `Idempotent-Replayed:
  true` (roll the key if the first answer was lost). The same key with another request is 422
  `idempotency_key_reused`; while the first is still running, a retry waits for it. Answers
  are kept IDEMPOTENCY_KEEP_HOURS (dashboard/keys/idempotency.py purges them); a root key
  holding IDEMPOTENCY_KEYS_MAX of them gets 429 `idempotency_keys_exhausted` for a new one.
- Each root key has its own per-minute limit (MANAGEMENT_RATE_LIMIT_PER_MINUTE), counted in
  the same storage as the API's limits (Redis when configured, shared by every worker).
- Changes take effect on every worker as dashboard changes do (keys.service calls
  key_changed). Each use is audited (`root_key.use`) and moves the key's last-used time.
- DELETE answers the deleted key (status `deleted`) once; the key is then gone: reading,
  changing or deleting it again is 404 `key_not_found` (a retry with the same Idempotency-Key
  gets the first answer). Its calls stay in the logs and in the month's usage.
"""

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
import sqlalchemy as sa
from flask import Blueprint, current_app, g, request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dashboard.alerts.key_events import Actor
from dashboard.api.answers import ApiError, json_response
from dashboard.api.codes import ErrorCode
from dashboard.api.credentials import secret_from_headers
from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.keys.idempotency import keys_exhausted, seconds_until_one_frees
from dashboard.keys.root import find_root_key, is_root_secret, working
from dashboard.keys.rules import ip_allowed, key_status, parse_ip_list
from dashboard.keys.service import (
    GRACE_PERIODS,
    KeyLimitReached,
    KeyNotActive,
    create_key_within_plan,
    delete_key,
    expire_key,
    key_of,
    keys_of,
    roll_key,
    update_key,
)
from dashboard.models import IdempotentRequest, RootKey, ToolLog, User, utcnow
from dashboard.paging import BadCursor, Keyset, decode_cursor, encode_cursor
from dashboard.plans import plan_named
from dashboard.tools.registry import all_tools
from dashboard.usage.service import (
    GROUP_BY,
    BadMonth,
    DateTimeText,
    month_usage,
    parse_month,
    usage_breakdown,
)

bp = Blueprint("management", __name__)

# A date-time as RFC 3339 (and JSON Schema's `date-time` format) writes it.
RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_WAIT_SECONDS = 10.0

# Shapes (their schemas go into the OpenAPI document).

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
RateLimit = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class KeyInfo(msgspec.Struct, forbid_unknown_fields=True):
    """An API key as the management API shows it (never its secret)."""

    id: str
    name: str
    prefix: str
    status: Literal["active", "rolled", "expired", "revoked", "deleted"]
    created_at: DateTimeText
    expires_at: DateTimeText | None
    last_used_at: DateTimeText | None
    rate_limit_per_minute: int
    allowed_tools: list[str] | None
    allowed_ips: list[str] | None
    replaced_by: str | None
    monthly_call_cap: int | None
    mode: Literal["live", "test"]
    deleted_at: DateTimeText | None


class KeyList(msgspec.Struct, forbid_unknown_fields=True):
    keys: list[KeyInfo]


class LogInfo(msgspec.Struct, forbid_unknown_fields=True):
    """One logged call (its payloads are on the dashboard's log page, not here)."""

    id: str
    created_at: DateTimeText
    key_id: str
    tool: str
    version: str
    status: Literal["success", "error"]
    http_status: int | None
    error_code: str | None
    error_message: str | None
    execution_time_ms: int | None
    tokens_used: int | None
    source: str | None


class LogList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of logged calls, newest first; `next_cursor` asks for the page after it."""

    logs: list[LogInfo]
    next_cursor: str | None


class KeyWithSecret(msgspec.Struct, forbid_unknown_fields=True):
    """A key just made (create, roll) with its secret, shown this once; null when replayed."""

    key: KeyInfo
    secret: str | None


MonthlyCap = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    rate_limit_per_minute: RateLimit = 100
    monthly_call_cap: MonthlyCap | None = None
    test_mode: bool = False
    expires_at: datetime | None = None
    allowed_tools: list[str] | None = None
    allowed_ips: list[str] | None = None


class KeyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    monthly_call_cap: MonthlyCap | msgspec.UnsetType | None = msgspec.UNSET
    rate_limit_per_minute: RateLimit | msgspec.UnsetType = msgspec.UNSET
    allowed_tools: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    allowed_ips: list[str] | msgspec.UnsetType | None = msgspec.UNSET


class KeyRoll(msgspec.Struct, forbid_unknown_fields=True):
    grace: Literal["none", "1h", "24h", "7d"] = "none"


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def key_info(key) -> KeyInfo:
    return KeyInfo(
        id=str(key.id),
        name=key.name,
        prefix=key.prefix,
        status="deleted" if key.deleted_at else key_status(key, utcnow()),
        created_at=iso(key.created_at),
        expires_at=iso(key.expires_at),
        last_used_at=iso(key.last_request_at),
        rate_limit_per_minute=key.rate_limit_per_minute,
        allowed_tools=key.allowed_tools,
        allowed_ips=key.allowed_ips,
        replaced_by=str(key.replaced_by_id) if key.replaced_by_id else None,
        monthly_call_cap=key.monthly_call_cap,
        mode="test" if key.is_test else "live",
        deleted_at=iso(key.deleted_at),
    )


# Authentication, scopes and limits.


def root_key_for(scope: str) -> tuple[RootKey, User]:
    """The request's root key and its account, or the JSON error that says what is wrong."""
    secret = secret_from_headers(request.headers)
    if secret is None:
        raise ApiError(
            ErrorCode.MISSING_API_KEY,
            "Send a root key as `Authorization: Bearer tk_root_…`.",
            headers={"WWW-Authenticate": 'Bearer realm="management"'},
        )
    if not is_root_secret(secret):
        raise ApiError(
            ErrorCode.ROOT_KEY_REQUIRED,
            "This route takes a root key (tk_root_…), made on the dashboard's Root keys page; "
            "API keys call tools.",
        )
    root_key = find_root_key(secret)
    if root_key is None:
        raise ApiError(ErrorCode.INVALID_API_KEY, "This root key does not exist.")
    now = utcnow()
    if root_key.revoked_at is not None:
        raise ApiError(ErrorCode.REVOKED_API_KEY, "This root key was revoked.")
    if not working(root_key, now):
        raise ApiError(
            ErrorCode.EXPIRED_API_KEY, f"This root key expired at {iso(root_key.expires_at)}."
        )
    account = db.session.get(User, root_key.account_id)
    if account is None or account.is_disabled:
        raise ApiError(ErrorCode.REVOKED_API_KEY, "The account of this root key is disabled.")
    hold_to_limit(root_key)
    if not ip_allowed(root_key.allowed_ips, request.remote_addr):
        raise ApiError(
            ErrorCode.IP_NOT_ALLOWED, f"This root key may not be used from {request.remote_addr}."
        )
    if scope not in root_key.scopes:
        raise ApiError(
            ErrorCode.INSUFFICIENT_SCOPE,
            f"This root key lacks the scope {scope}; it has {', '.join(root_key.scopes)}.",
        )
    g.root_key = root_key
    return root_key, account


def management_limiter() -> tuple[MovingWindowRateLimiter, RateLimitItemPerMinute]:
    state = current_app.extensions.get("management_limiter")
    if state is None:
        storage = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        limit = RateLimitItemPerMinute(current_app.config["MANAGEMENT_RATE_LIMIT_PER_MINUTE"])
        state = current_app.extensions["management_limiter"] = (
            MovingWindowRateLimiter(storage),
            limit,
        )
    return state


def hold_to_limit(root_key: RootKey) -> None:
    """Count the request against the root key's per-minute limit (429 past it); the answer
    carries the limit's headers (rate_headers)."""
    limiter, limit = management_limiter()
    allowed = limiter.hit(limit, "management", str(root_key.id))
    reset, remaining = limiter.get_window_stats(limit, "management", str(root_key.id))
    wait = max(1, int(reset - time.time()) + 1)
    g.management_window = (limit.amount, remaining, wait)
    if not allowed:
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"This root key made {limit.amount} requests in the last minute; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def used(root_key: RootKey, account: User, action: str, **details) -> None:
    """Audit one use of a root key and move its last-used time."""
    root_key.last_used_at = utcnow()
    record_event(
        "root_key.use",
        actor=None,
        subject=account,
        details={"root_key_id": str(root_key.id), "root_key": root_key.name, "action": action}
        | details,
        commit=False,
    )
    db.session.commit()


@bp.after_app_request
def rate_headers(response):
    """The root key's limit on every answer once the key is known (as tool calls carry
    theirs): X-RateLimit-* and the IETF RateLimit-Policy and RateLimit fields."""
    window = g.pop("management_window", None)
    if window is not None:
        amount, remaining, wait = window
        response.headers["X-RateLimit-Limit"] = str(amount)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(wait)
        response.headers["RateLimit-Policy"] = f'"root";q={amount};w=60'
        response.headers["RateLimit"] = f'"root";r={remaining};t={wait}'
    return response


# Idempotent writes.


def idempotent(write):
    """Run `write()` (which returns a response) once per Idempotency-Key of this root key."""
    supplied = request.headers.get("Idempotency-Key")
    if supplied is None:
        return write()
    if not supplied or len(supplied) > IDEMPOTENCY_KEY_MAX:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            f"Idempotency-Key takes 1 to {IDEMPOTENCY_KEY_MAX} characters.",
            errors=[{"path": "/headers/Idempotency-Key", "message": "1 to 255 characters"}],
        )
    root_key = g.root_key
    fingerprint = hashlib.sha256(
        b"\n".join([request.method.encode(), request.path.encode(), request.get_data()])
    ).hexdigest()
    stored = db.session.get(IdempotentRequest, (root_key.id, supplied))
    if stored is None and keys_exhausted(root_key.id):
        wait = seconds_until_one_frees(root_key.id)
        raise ApiError(
            ErrorCode.IDEMPOTENCY_KEYS_EXHAUSTED,
            f"This root key holds {current_app.config['IDEMPOTENCY_KEYS_MAX']} kept answers of "
            f"the last {current_app.config['IDEMPOTENCY_KEEP_HOURS']} hours; retry later or "
            "reuse an Idempotency-Key only for retries.",
            headers={"Retry-After": str(wait)},
        )
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    claimed = db.session.execute(
        insert(IdempotentRequest)
        .values(root_key_id=root_key.id, idempotency_key=supplied, request_hash=fingerprint)
        .on_conflict_do_nothing()
        .returning(IdempotentRequest.root_key_id)
    ).first()
    db.session.commit()
    if claimed is None:
        return replay(root_key, supplied, fingerprint)
    try:
        response = write()
    except Exception:
        db.session.rollback()
        forget(root_key, supplied)
        raise
    if response.status_code >= 500:
        forget(root_key, supplied)
        return response
    stored = db.session.get(IdempotentRequest, (root_key.id, supplied))
    stored.status = response.status_code
    stored.body = without_secret(response.get_data(as_text=True))
    db.session.commit()
    return response


def forget(root_key: RootKey, supplied: str) -> None:
    db.session.execute(
        sa.delete(IdempotentRequest).where(
            IdempotentRequest.root_key_id == root_key.id,
            IdempotentRequest.idempotency_key == supplied,
        )
    )
    db.session.commit()


def without_secret(body: str) -> str:
    """The answer as kept: a secret in it is replaced by null (secrets are never stored)."""
    try:
        shape = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if isinstance(shape, dict) and shape.get("secret"):
        shape["secret"] = None
    return msgspec.json.encode(shape).decode()


def replay(root_key: RootKey, supplied: str, fingerprint: str):
    """The kept answer of an earlier request with this key (waiting while it runs)."""
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    while True:
        db.session.expire_all()
        stored = db.session.get(IdempotentRequest, (root_key.id, supplied))
        if stored is not None and stored.request_hash != fingerprint:
            raise ApiError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was already used with a different request.",
            )
        if stored is not None and stored.status is not None:
            return current_app.response_class(
                stored.body + "\n",
                status=stored.status,
                mimetype="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        if stored is None or time.monotonic() > deadline:
            raise ApiError(
                ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                "A request with this Idempotency-Key is still being answered; retry shortly.",
                headers={"Retry-After": "1"},
            )
        db.session.rollback()
        time.sleep(0.05)


# Bodies.


def whole_numbers_as_int(value):
    """`value` with every float that has no fraction (`60.0`) as an int, at any depth."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {name: whole_numbers_as_int(item) for name, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers_as_int(item) for item in value]
    return value


def body_as(shape: type[msgspec.Struct]):
    """The request body decoded as `shape`, or 422 invalid_parameters naming the field. A
    number with a zero fraction (`60.0`) is an integer, as JSON Schema says (so the document's
    `integer` fields take it); anything else is held to `shape` strictly."""
    try:
        decoded = msgspec.json.decode(request.get_data() or b"{}")
        return msgspec.convert(whole_numbers_as_int(decoded), type=shape)
    except msgspec.ValidationError as error:
        message = str(error)
        path = message.rpartition(" - at `$")[2].rstrip("`") if " - at `$" in message else ""
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            message,
            errors=[{"path": path.replace(".", "/") or "/", "message": message}],
        ) from None
    except msgspec.DecodeError as error:
        raise ApiError(ErrorCode.INVALID_JSON, f"The body is not JSON: {error}") from None


def checked_restrictions(account: User, tools, ips, rate_limit) -> dict:
    """The restrictions as stored, or 422 naming what is wrong with them; a rate limit above
    the account's plan is 409 `rate_limit_above_plan` (the request is well formed: the plan is
    what refuses it, as it refuses a key past its working keys)."""
    plan = plan_named(account.subscription_plan)
    if rate_limit is not None and rate_limit > plan.max_rate_limit:
        raise ApiError(
            ErrorCode.RATE_LIMIT_ABOVE_PLAN,
            f"rate_limit_per_minute is at most {plan.max_rate_limit:,} on the {plan.title} plan.",
            limit=plan.max_rate_limit,
        )
    problems = []
    if tools is not None:
        known = {tool.name for tool in all_tools()}
        unknown = sorted(set(tools) - known)
        if unknown:
            problems.append(
                {"path": "/allowed_tools", "message": "Unknown tools: " + ", ".join(unknown)}
            )
    entries, invalid = parse_ip_list(" ".join(ips or []))
    if invalid:
        problems.append(
            {"path": "/allowed_ips", "message": "Not an IP or CIDR: " + ", ".join(invalid[:10])}
        )
    if problems:
        raise ApiError(ErrorCode.INVALID_PARAMETERS, problems[0]["message"], errors=problems)
    return {
        "allowed_tools": sorted(set(tools)) or None if tools else None,
        "allowed_ips": entries or None,
    }


def key_or_404(account: User, key_id: str):
    key = key_of(account, key_id)
    if key is None or key.is_playground:
        raise ApiError(ErrorCode.KEY_NOT_FOUND, f"This account has no API key {key_id[:40]!r}.")
    return key


# Routes.


@bp.get("/v1/keys")
def list_keys():
    """The account's API keys, newest first (never their secrets)."""
    root_key, account = root_key_for("keys:read")
    used(root_key, account, "keys.list")
    return json_response(KeyList([key_info(key) for key in keys_of(account, playground=False)]))


@bp.post("/v1/keys")
def create_key():
    """Create an API key; its secret is in this answer only."""
    root_key, account = root_key_for("keys:write")

    def write():
        body = body_as(KeyCreate)
        restrictions = checked_restrictions(
            account, body.allowed_tools, body.allowed_ips, body.rate_limit_per_minute
        )
        expires = naive_utc(body.expires_at) if body.expires_at else None
        if expires is not None and expires <= utcnow():
            raise ApiError(
                ErrorCode.INVALID_PARAMETERS,
                "expires_at is in the past.",
                errors=[{"path": "/expires_at", "message": "must be in the future"}],
            )
        try:
            key, secret = create_key_within_plan(
                account,
                body.name.strip(),
                rate_limit_per_minute=body.rate_limit_per_minute,
                expires_at=expires,
                monthly_call_cap=body.monthly_call_cap,
                is_test=body.test_mode,
                actor=Actor.root_key(root_key),
                **restrictions,
            )
        except KeyLimitReached as refusal:
            raise ApiError(ErrorCode.KEY_LIMIT_REACHED, str(refusal)) from None
        used(root_key, account, "key.create", key_id=str(key.id), key_prefix=key.prefix)
        return json_response(KeyWithSecret(key_info(key), secret), 201)

    return idempotent(write)


@bp.get("/v1/keys/<key_id>")
def get_key(key_id: str):
    root_key, account = root_key_for("keys:read")
    key = key_or_404(account, key_id)
    used(root_key, account, "key.read", key_id=str(key.id))
    return json_response(key_info(key))


@bp.patch("/v1/keys/<key_id>")
def update(key_id: str):
    """Change a key's name, rate limit or restrictions (fields left out stay as they are)."""
    root_key, account = root_key_for("keys:write")

    def write():
        key = key_or_404(account, key_id)
        body = body_as(KeyUpdate)
        tools = key.allowed_tools if body.allowed_tools is msgspec.UNSET else body.allowed_tools
        ips = key.allowed_ips if body.allowed_ips is msgspec.UNSET else body.allowed_ips
        rate = (
            key.rate_limit_per_minute
            if body.rate_limit_per_minute is msgspec.UNSET
            else body.rate_limit_per_minute
        )
        restrictions = checked_restrictions(account, tools, ips, rate)
        name = key.name if body.name is msgspec.UNSET else body.name.strip()
        changes = {}
        if body.monthly_call_cap is not msgspec.UNSET:
            changes["monthly_call_cap"] = body.monthly_call_cap
        update_key(key, name=name, rate_limit_per_minute=rate, **restrictions, **changes)
        used(root_key, account, "key.edit", key_id=str(key.id), key_prefix=key.prefix)
        return json_response(key_info(key))

    return idempotent(write)


@bp.post("/v1/keys/<key_id>/roll")
def roll(key_id: str):
    """A successor key (its secret in this answer only); the old one works for `grace`."""
    root_key, account = root_key_for("keys:write")

    def write():
        key = key_or_404(account, key_id)
        body = body_as(KeyRoll)
        try:
            successor, secret = roll_key(
                key, GRACE_PERIODS[body.grace], actor=Actor.root_key(root_key)
            )
        except KeyNotActive:
            raise ApiError(ErrorCode.KEY_NOT_ACTIVE, "Only an active key can be rolled.") from None
        except KeyLimitReached as refusal:
            raise ApiError(ErrorCode.KEY_LIMIT_REACHED, str(refusal)) from None
        used(root_key, account, "key.roll", key_id=str(key.id), successor_id=str(successor.id))
        return json_response(KeyWithSecret(key_info(successor), secret), 201)

    return idempotent(write)


@bp.post("/v1/keys/<key_id>/expire")
def expire(key_id: str):
    """Stop a key now (every worker refuses it within a second)."""
    root_key, account = root_key_for("keys:write")

    def write():
        key = key_or_404(account, key_id)
        if key.revoked_at is None:
            expire_key(key, actor=Actor.root_key(root_key))
        used(root_key, account, "key.expire", key_id=str(key.id), key_prefix=key.prefix)
        return json_response(key_info(key))

    return idempotent(write)


@bp.delete("/v1/keys/<key_id>")
def delete(key_id: str):
    """Delete a key: it stops now on every worker and leaves the lists; its logged calls and
    the month's usage keep it (as "deleted key <prefix>"). The answer is the key, once."""
    root_key, account = root_key_for("keys:write")

    def write():
        key = key_or_404(account, key_id)
        delete_key(key, actor=Actor.root_key(root_key))
        used(root_key, account, "key.delete", key_id=str(key.id), key_prefix=key.prefix)
        return json_response(key_info(key))

    return idempotent(write)


LOGS_PAGE_MAX = 100
NEWEST_FIRST = Keyset((ToolLog.created_at, ToolLog.id))


def naive_utc(moment: datetime) -> datetime:
    """A time as the database keeps it: naive UTC (its offset applied, not dropped); within a
    day of year 1 or 9999 the end of time it points past."""
    offset = moment.utcoffset()
    if offset is None:
        return moment
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return datetime.min if offset > timedelta(0) else datetime.max


def query_time(name: str) -> datetime | None:
    """An RFC 3339 date-time from the query string (naive UTC), as the document says; absent:
    None; anything else, even empty: 422 naming the parameter."""
    value = request.args.get(name)
    if value is None:
        return None
    matched = RFC3339.fullmatch(value)
    try:
        if matched is None:
            raise ValueError(value)
        date_part, time_part, fraction, offset = matched.groups()
        parsed = datetime.fromisoformat(f"{date_part}T{time_part}{(fraction or '')[:7]}")
    except ValueError:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            f"{name} is not an RFC 3339 time, e.g. 2026-12-01T00:00:00Z.",
            errors=[{"path": f"/query/{name}", "message": "an RFC 3339 date-time"}],
        ) from None
    if offset.upper() == "Z":
        return parsed
    sign = 1 if offset[0] == "+" else -1
    shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    try:
        return parsed - sign * shift
    except OverflowError:  # within a day of year 1 or 9999: the bound is the end of time
        return datetime.min if sign > 0 else datetime.max


def query_text(name: str) -> str | None:
    """A text from the query string (None when absent or empty), or 422 naming the parameter
    when it holds a NUL character (no name has one, and PostgreSQL cannot compare one)."""
    value = request.args.get(name) or None
    if value is not None and "\x00" in value:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            f"{name} holds a NUL character.",
            errors=[{"path": f"/query/{name}", "message": "no NUL character"}],
        )
    return value


@bp.get("/v1/logs")
def list_logs():
    """The account's logged calls, newest first, a page at a time (keyset cursor)."""
    root_key, account = root_key_for("logs:read")
    where = [ToolLog.user_id == account.id]
    status = request.args.get("status")
    if status is not None:
        if status not in ("success", "error"):
            raise ApiError(
                ErrorCode.INVALID_PARAMETERS,
                "status is success or error.",
                errors=[{"path": "/query/status", "message": "success or error"}],
            )
        where.append(ToolLog.status == status)
    tool = query_text("tool")
    if tool:
        where.append(ToolLog.tool_name == tool)
    if request.args.get("key_id"):
        key = key_of(account, request.args["key_id"], deleted=True)
        if key is None:
            raise ApiError(ErrorCode.KEY_NOT_FOUND, "This account has no such API key.")
        where.append(ToolLog.api_key_id == key.id)
    since, until = query_time("since"), query_time("until")
    if since:
        where.append(ToolLog.created_at >= since)
    if until:
        where.append(ToolLog.created_at < until)
    limit = request.args.get("limit", "50")  # present but empty is no number either
    size = int(limit) if re.fullmatch(r"[0-9]{1,9}", limit) else 0
    if not 1 <= size <= LOGS_PAGE_MAX:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            f"limit is a whole number from 1 to {LOGS_PAGE_MAX}.",
            errors=[{"path": "/query/limit", "message": f"1 to {LOGS_PAGE_MAX}"}],
        )
    cursor = request.args.get("cursor")
    try:
        at = decode_cursor(cursor) if cursor else None
    except BadCursor:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            "cursor is not one this API gave out; start again without it.",
            errors=[{"path": "/query/cursor", "message": "a next_cursor of an earlier page"}],
        ) from None
    page = NEWEST_FIRST.page(sa.select(ToolLog), where, at, size=size)
    used(root_key, account, "logs.list")
    following = encode_cursor(*page.following) if page.following else None
    return json_response(LogList([log_info(log) for log in page.rows], following))


def log_info(log: ToolLog) -> LogInfo:
    return LogInfo(
        id=str(log.id),
        created_at=iso(log.created_at),
        key_id=str(log.api_key_id),
        tool=log.tool_name,
        version=log.tool_version,
        status=log.status,
        http_status=log.http_status,
        error_code=log.error_code,
        error_message=log.error_message,
        execution_time_ms=log.execution_time_ms,
        tokens_used=log.tokens_used,
        source=log.source,
    )


@bp.get("/v1/account/usage")
def account_usage():
    """The account's usage for ?month=YYYY-MM (default: this UTC month), by day and tool."""
    root_key, account = root_key_for("usage:read")
    try:
        first, following = parse_month(request.args.get("month"), utcnow().date())
    except BadMonth as error:
        raise ApiError(ErrorCode.INVALID_MONTH, str(error)) from None
    used(root_key, account, "usage.read")
    return json_response(month_usage(account.id, account.subscription_plan, first, following))


@bp.get("/v1/account/usage/breakdown")
def account_usage_breakdown():
    """The month's usage (?month=YYYY-MM, default this UTC month) of live keys grouped by
    ?group_by=day|key|tool, narrowed to one ?key_id= (deleted keys too) or ?tool= if asked."""
    root_key, account = root_key_for("usage:read")
    try:
        first, following = parse_month(request.args.get("month"), utcnow().date())
    except BadMonth as error:
        raise ApiError(ErrorCode.INVALID_MONTH, str(error)) from None
    group_by = request.args.get("group_by") or "day"
    if group_by not in GROUP_BY:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            "group_by is day, key or tool.",
            errors=[{"path": "/query/group_by", "message": "day, key or tool"}],
        )
    key_id = None
    if request.args.get("key_id"):
        key = key_of(account, request.args["key_id"], deleted=True)
        if key is None:
            raise ApiError(ErrorCode.KEY_NOT_FOUND, "This account has no such API key.")
        key_id = key.id
    tool = query_text("tool")
    used(root_key, account, "usage.read", group_by=group_by)
    return json_response(
        usage_breakdown(account.id, first, following, group_by, key_id=key_id, tool=tool)
    )
