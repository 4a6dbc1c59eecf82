"""The management API's error groups and webhook endpoints (`/api/v1/errors`,
`/api/v1/webhooks…`), with a root key, as management.py does for keys.

- Error groups are the errors inbox's (inbox/service.py): the same grouping (tool, version,
  code, message fingerprint), order (most recently seen first) and period (`days`, cut to the
  plan's log retention), a page at a time. They are read with the `logs:read` scope: a group
  is a sum of logged calls, and its message and sample call are in the logs already.
- Webhook endpoints go through the service the webhooks page uses (webhooks/service.py): the
  same URL rules (delivery.url_problem; each delivery then checks the resolved address as for
  any endpoint), event names (alerts/events.py EVENT_TYPES), per-account cap (MAX_ENDPOINTS)
  and a signing secret shown once, on create. `webhooks:read` lists and reads them,
  `webhooks:write` changes them; writes take an Idempotency-Key (a replayed create answers the
  same endpoint with `secret: null`). Every use is audited (`root_key.use`).
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from flask import Blueprint, request

from dashboard.alerts.events import EVENT_TYPES
from dashboard.api.answers import ApiError, json_response
from dashboard.api.codes import ErrorCode
from dashboard.api.management import body_as, idempotent, iso, root_key_for, used
from dashboard.inbox import service as inbox
from dashboard.models import User
from dashboard.plans import plan_named
from dashboard.usage.service import DateTimeText
from dashboard.webhooks import service as webhooks
from dashboard.webhooks.delivery import url_problem

bp = Blueprint("management_hooks", __name__)

ERRORS_PAGE_MAX = inbox.MAX_GROUPS
NOT_NUL = "^[^\\u0000]*$"
URL_SHAPE = (
    "^[Hh][Tt][Tt][Pp][Ss]?://([^/?#@\\u0000]*@)?([A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?"
    "([/?#][^\\u0000]*)?$"
)

# Shapes (their schemas go into the OpenAPI document).

EventType = Literal[tuple(EVENT_TYPES)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=2000,
        # The shape url_problem can accept (http or https, a host of letters, digits, _ - and
        # dots, or an IP address): its checks then refuse the rest with the page's reason.
        pattern=URL_SHAPE,
        examples=["https://example.com/webhooks/toolbox"],
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=200, pattern=NOT_NUL)]
DateText = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date"})]


class ErrorGroupInfo(msgspec.Struct, forbid_unknown_fields=True):
    """One kind of failure: where (tool, version), what (code, message) and how often."""

    tool: str
    version: str
    error_code: str
    fingerprint: str
    message: str
    count: int
    first_seen: DateTimeText
    last_seen: DateTimeText
    key_ids: list[str]
    sample_log_id: str | None
    daily_counts: list[int]  # calls on each of the last 14 UTC days, oldest first


class ErrorGroupList(msgspec.Struct, forbid_unknown_fields=True):
    """A page of error groups, most recently seen first; `next_cursor` asks for the page after
    it. `days` is the period counted (0: the plan's whole log retention), `since` its first
    UTC day, `note` why it is not the period asked for (null: it is)."""

    groups: list[ErrorGroupInfo]
    days: int
    since: DateText
    note: str | None
    next_cursor: str | None


class WebhookInfo(msgspec.Struct, forbid_unknown_fields=True):
    """A webhook endpoint as the management API shows it (never its signing secret)."""

    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: DateTimeText


class WebhookList(msgspec.Struct, forbid_unknown_fields=True):
    webhooks: list[WebhookInfo]


class WebhookWithSecret(msgspec.Struct, forbid_unknown_fields=True):
    """An endpoint just made, with its signing secret shown this once; null when replayed."""

    webhook: WebhookInfo
    secret: str | None


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    event_types: EventTypes
    description: Description = ""


class WebhookUpdate(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


def group_info(group: inbox.ErrorGroup) -> ErrorGroupInfo:
    return ErrorGroupInfo(
        tool=group.tool_name,
        version=group.tool_version,
        error_code=group.error_code,
        fingerprint=group.fingerprint,
        message=group.message,
        count=group.count,
        first_seen=iso(group.first_seen),
        last_seen=iso(group.last_seen),
        key_ids=sorted(str(key_id) for key_id in group.key_ids if key_id is not None),
        sample_log_id=str(group.sample_log_id) if group.sample_log_id else None,
        daily_counts=list(group.days),
    )


def webhook_info(endpoint) -> WebhookInfo:
    return WebhookInfo(
        id=str(endpoint.id),
        url=endpoint.url,
        description=endpoint.description or "",
        event_types=list(endpoint.event_types),
        enabled=endpoint.is_enabled,
        disabled_reason=endpoint.disabled_reason,
        consecutive_failures=endpoint.consecutive_failures or 0,
        created_at=iso(endpoint.created_at),
    )


# Error groups.


def group_cursor(group: inbox.ErrorGroup) -> str:
    """A group's position in the inbox's order, as the next page's cursor."""
    last_seen, identity = inbox.position(group)
    raw = json.dumps([last_seen.isoformat(), *identity], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def after_cursor(cursor: str) -> tuple[datetime, tuple[str, str, str, str]]:
    """The position a cursor names, or 422 invalid_parameters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        last_seen, *identity = json.loads(raw)
        if len(identity) != 4 or not all(isinstance(part, str) for part in identity):
            raise ValueError
        at = datetime.fromisoformat(last_seen)
        if at.tzinfo is not None:  # ours are naive UTC
            raise ValueError
        return at, tuple(identity)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            "cursor is not one this API gave out; start again without it.",
            errors=[{"path": "/query/cursor", "message": "a next_cursor of an earlier page"}],
        ) from None


def query_days(account: User) -> inbox.Period:
    """The period from `?days=`: one of the errors inbox's periods (1, 7, 30, 90, or 0 for the
    whole log retention); one longer than the plan keeps logs is cut to the retention, with a
    note. Left out, the inbox's default."""
    retention = plan_named(account.subscription_plan).log_retention_days
    value = request.args.get("days")
    if value is None or value == "":
        return inbox.parse_period(None, retention)
    if value.isdecimal() and len(value) <= 6 and int(value) in inbox.PERIODS:
        return inbox.parse_period(value, retention)
    choices = ", ".join(str(days) for days in inbox.PERIODS)
    raise ApiError(
        ErrorCode.INVALID_PARAMETERS,
        f"days is one of {choices} (0: the plan's whole log retention of {retention} days).",
        errors=[{"path": "/query/days", "message": f"one of {choices}"}],
    )


def query_limit() -> int:
    try:
        size = int(request.args.get("limit") or ERRORS_PAGE_MAX)
    except ValueError:
        size = 0
    if not 1 <= size <= ERRORS_PAGE_MAX:
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            f"limit is a whole number from 1 to {ERRORS_PAGE_MAX}.",
            errors=[{"path": "/query/limit", "message": f"1 to {ERRORS_PAGE_MAX}"}],
        )
    return size


@bp.get("/v1/errors")
def list_errors():
    """The account's error groups, as the errors inbox shows them, a page at a time."""
    root_key, account = root_key_for("logs:read")
    period = query_days(account)
    size = query_limit()
    cursor = request.args.get("cursor")
    after = after_cursor(cursor) if cursor else None
    found = inbox.error_groups(account, period.days, limit=size + 1, after=after)
    shown = found[:size]
    following = group_cursor(shown[-1]) if len(found) > size else None
    used(root_key, account, "errors.list")
    return json_response(
        ErrorGroupList(
            groups=[group_info(group) for group in shown],
            days=period.days,
            since=inbox.first_day(account, period.days).isoformat(),
            note=period.note,
            next_cursor=following,
        )
    )


# Webhook endpoints.


def webhook_or_404(account: User, webhook_id: str):
    endpoint = webhooks.endpoint_of(account.id, webhook_id)
    if endpoint is None:
        raise ApiError(
            ErrorCode.WEBHOOK_NOT_FOUND,
            f"This account has no webhook endpoint {webhook_id[:40]!r}.",
        )
    return endpoint


def checked_url(url: str) -> str:
    """The URL as stored (trimmed), or 422 invalid_webhook_url with the page's reason."""
    url = url.strip()
    problem = url_problem(url)
    if problem:
        raise ApiError(
            ErrorCode.INVALID_WEBHOOK_URL,
            problem,
            errors=[{"path": "/url", "message": problem}],
        )
    return url


@bp.get("/v1/webhooks")
def list_webhooks():
    """The account's webhook endpoints, oldest first (never their secrets)."""
    root_key, account = root_key_for("webhooks:read")
    used(root_key, account, "webhooks.list")
    return json_response(
        WebhookList([webhook_info(endpoint) for endpoint in webhooks.endpoints_of(account.id)])
    )


@bp.post("/v1/webhooks")
def create_webhook():
    """Add an endpoint; its signing secret is in this answer only."""
    root_key, account = root_key_for("webhooks:write")

    def write():
        body = body_as(WebhookCreate)
        url = checked_url(body.url)
        try:
            endpoint, secret = webhooks.create_endpoint(
                account.id, url, body.description.strip(), sorted(set(body.event_types))
            )
        except webhooks.TooManyEndpoints:
            raise ApiError(
                ErrorCode.WEBHOOK_LIMIT_REACHED,
                f"An account may have at most {webhooks.MAX_ENDPOINTS} endpoints: delete one "
                "first.",
            ) from None
        used(root_key, account, "webhook.create", webhook_id=str(endpoint.id))
        return json_response(WebhookWithSecret(webhook_info(endpoint), secret), 201)

    return idempotent(write)


@bp.get("/v1/webhooks/<webhook_id>")
def get_webhook(webhook_id: str):
    root_key, account = root_key_for("webhooks:read")
    endpoint = webhook_or_404(account, webhook_id)
    used(root_key, account, "webhook.read", webhook_id=str(endpoint.id))
    return json_response(webhook_info(endpoint))


@bp.patch("/v1/webhooks/<webhook_id>")
def update_webhook(webhook_id: str):
    """Change an endpoint's URL, description, events, or turn it off or on again (fields left
    out stay as they are); enabling it again clears its failure count, as the page does."""
    root_key, account = root_key_for("webhooks:write")

    def write():
        endpoint = webhook_or_404(account, webhook_id)
        body = body_as(WebhookUpdate)
        url = endpoint.url if body.url is msgspec.UNSET else checked_url(body.url)
        description = (
            endpoint.description if body.description is msgspec.UNSET else body.description
        )
        events = (
            endpoint.event_types
            if body.event_types is msgspec.UNSET
            else sorted(set(body.event_types))
        )
        webhooks.update_endpoint(endpoint, url, (description or "").strip(), events)
        if body.enabled is not msgspec.UNSET and body.enabled != endpoint.is_enabled:
            webhooks.set_enabled(endpoint, body.enabled)
        used(root_key, account, "webhook.edit", webhook_id=str(endpoint.id))
        return json_response(webhook_info(endpoint))

    return idempotent(write)


@bp.delete("/v1/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str):
    """Delete an endpoint and its delivery log; the answer is the endpoint as it was."""
    root_key, account = root_key_for("webhooks:write")

    def write():
        endpoint = webhook_or_404(account, webhook_id)
        shown = webhook_info(endpoint)
        webhooks.delete_endpoint(endpoint)
        used(root_key, account, "webhook.delete", webhook_id=shown.id)
        return json_response(shown)

    return idempotent(write)
