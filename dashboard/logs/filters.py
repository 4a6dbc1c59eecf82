"""The logs list's filters: a form over the query string.

`LogFilterForm` declares every filter the list, the export and the "newer calls" poll read; a
bad value is ignored (the list still shows) and its message becomes one of `LogFilter.problems`.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import StringField, ValidationError

from dashboard.extensions import db
from dashboard.models import ApiKey, User

# `rejected`: calls refused before they were logged (rate limit, quota, concurrency), shown
# as one row per key, tool, reason and minute with a count (rejected_calls).
STATUSES = ("success", "error", "rejected")
# Date presets: the last hour, day, week, month, counted back from now.
SINCE_PRESETS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# Where a logged call came from (tool_logs.source: NULL for the API, `playground`); refused
# calls are counted per minute without one, so a source filter leaves them out.
SOURCES = ("api", "playground")
MAX_TEXT_FILTER = 200
FILTER_PARAMS = (
    "tool",
    "version",
    "status",
    "key",
    "from",
    "to",
    "q",
    "code",
    "http",
    "group",
    "since",
    "source",
)
# The order in which the problems of several bad values are listed.
PROBLEM_ORDER = (
    "tool",
    "version",
    "q",
    "code",
    "group",
    "status",
    "http",
    "since",
    "source",
    "key",
    "from",
    "to",
)


@dataclass
class LogFilter:
    """The list's filters; `problems` says which given values were ignored and why."""

    tool: str | None = None
    version: str | None = None
    status: str | None = None
    key_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    code: str | None = None
    http_status: int | None = None
    fingerprint: str | None = None
    since: str | None = None  # a key of SINCE_PRESETS
    source: str | None = None  # one of SOURCES
    problems: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # URL parameters whose value was ignored
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True when any filter narrows the list."""
        return any(value is not None for value in self.query_args().values())

    def reject(self, param: str, message: str) -> None:
        """Ignore the value of `param` and say why."""
        self.invalid.add(param)
        self.problems.append(message)

    def query_args(self) -> dict[str, str]:
        """The valid filters as URL parameters (for links that keep them)."""
        args = {
            "tool": self.tool,
            "version": self.version,
            "status": self.status,
            "key": str(self.key_id) if self.key_id else None,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "q": self.q,
            "code": self.code,
            "http": str(self.http_status) if self.http_status else None,
            "group": self.fingerprint,
            "since": self.since,
            "source": self.source,
        }
        return {name: value for name, value in args.items() if value is not None}


def strip(value: str | None) -> str:
    return value.strip() if isinstance(value, str) else ""


def at_most(label: str):
    """A validator: text filters longer than MAX_TEXT_FILTER are ignored."""

    def check(form, field) -> None:
        if len(field.data) > MAX_TEXT_FILTER:
            raise ValidationError(f"The {label} filter is too long; it was ignored.")

    return check


def one_of(values, message: str):
    """A validator: the value is one of `values`."""

    def check(form, field) -> None:
        if field.data and field.data not in values:
            raise ValidationError(message)

    return check


def http_status(form, field) -> None:
    if field.data and not (field.data.isdigit() and 100 <= int(field.data) <= 599):
        raise ValidationError("HTTP status must be a number like 422; it was ignored.")


def iso_date(label: str):
    """A validator: the value reads as a date; the parsed date is kept on the field."""

    def check(form, field) -> None:
        field.day = None
        if not field.data:
            return
        try:
            field.day = date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(
                f"The {label} date must look like 2025-01-31; it was ignored."
            ) from None

    return check


def text(label: str) -> StringField:
    return StringField(label, filters=[strip], validators=[at_most(label)])


class LogFilterForm(FlaskForm):
    """The filters of the logs list, read from the query string (a GET form: no CSRF token).

    Fields are declared in the order their problems are listed."""

    class Meta:
        csrf = False

    tool = text("tool")
    version = text("version")
    q = text("error search")
    code = text("error code")
    group = text("error group")
    status = StringField(
        filters=[strip],
        validators=[
            one_of(STATUSES, "Status must be success, error or rejected; that filter was ignored.")
        ],
    )
    http = StringField(filters=[strip], validators=[http_status])
    since = StringField(
        filters=[strip],
        validators=[
            one_of(SINCE_PRESETS, "The period must be 1h, 24h, 7d or 30d; it was ignored.")
        ],
    )
    source = StringField(
        filters=[strip],
        validators=[one_of(SOURCES, "The source must be api or playground; it was ignored.")],
    )
    key = StringField(filters=[strip])
    # `from` is a Python keyword: set below, as the form's metaclass allows.
    to = StringField(filters=[strip], validators=[iso_date("to")])

    def __init__(self, formdata: Mapping[str, str], user: User) -> None:
        self.user = user
        super().__init__(formdata=formdata)

    def validate_key(self, field) -> None:
        field.key_id = own_key_id(self.user, field.data) if field.data else None
        if field.data and field.key_id is None:
            raise ValidationError("That key is not one of your keys; the key filter was ignored.")

    def as_filter(self) -> LogFilter:
        """Validate and read the filters: values with an error are left out and explained."""
        self.validate()
        filters = LogFilter(raw={name: self[name].data for name in FILTER_PARAMS})
        for name in PROBLEM_ORDER:
            if self[name].errors:
                filters.reject(name, self[name].errors[0])

        def valid(name: str):
            return None if self[name].errors or not self[name].data else self[name].data

        filters.tool, filters.version, filters.q = valid("tool"), valid("version"), valid("q")
        filters.code, filters.fingerprint = valid("code"), valid("group")
        filters.status, filters.since, filters.source = (
            valid("status"),
            valid("since"),
            valid("source"),
        )
        filters.http_status = int(valid("http")) if valid("http") else None
        filters.key_id = self.key.key_id if valid("key") else None
        filters.date_from = self["from"].day if valid("from") else None
        filters.date_to = self.to.day if valid("to") else None
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            filters.reject(
                "from", "The from date is after the to date; the date range was ignored."
            )
            filters.invalid.add("to")
            filters.date_from = filters.date_to = None
        return filters


setattr(LogFilterForm, "from", StringField(filters=[strip], validators=[iso_date("from")]))


def parse_filters(args: Mapping[str, str], user: User) -> LogFilter:
    """Read the filters from request.args; a bad value is ignored and explained in `problems`."""
    return LogFilterForm(args, user).as_filter()


def own_key_id(user: User, value: str) -> uuid.UUID | None:
    """The id of the user's key written as `value`; None for a malformed or foreign id."""
    try:
        key_id = uuid.UUID(value)
    except ValueError:
        return None
    return db.session.scalar(
        sa.select(ApiKey.id).where(ApiKey.id == key_id, ApiKey.user_id == user.id)
    )
