"""The logs list's filters: a form over the query string, and the search box's `name:value` terms.

`LogFilterForm` declares every filter the list, the export and the "newer calls" poll read; a
bad value is ignored (the list still shows) and its message becomes one of `LogFilter.problems`.
The search box sends its text as `q`: its `name:value` terms become the same parameters the
controls send (`status:422` is `http=422`), and what is left is the error-message search.
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
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
SINCE_WORDS = {
    "1h": "last hour",
    "24h": "last 24 hours",
    "7d": "last 7 days",
    "30d": "last 30 days",
}
# Where a logged call came from (tool_logs.source: NULL for the API, `playground`); refused
# calls are counted per minute without one, so a source filter leaves them out.
SOURCES = ("api", "playground")
# Calls of test-mode keys (api_keys.is_test, `tk_test_…`) or of live keys.
MODES = ("test", "live")
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
    "mode",
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
    "mode",
    "key",
    "from",
    "to",
)

# The search box's term names and the URL parameter each one sets.
SEARCH_TERMS = {
    "status": "status",  # success | error | rejected, or an HTTP status (sets `http`)
    "http": "http",
    "tool": "tool",
    "version": "version",
    "key": "key",  # a key's id, its prefix or its name
    "code": "code",
    "since": "since",
    "period": "since",
    "from": "from",
    "to": "to",
    "source": "source",
    "mode": "mode",  # test | live: the calling key's mode
    "group": "group",
}
# `name:value`, `name:"two words"`, `"two words"` or a bare word.
NAMED_TERM = re.compile(r"(?:^|\s)[A-Za-z_]+:\S")
TERM = re.compile(r'(?:(?P<name>[A-Za-z_]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>\S+))')


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
    mode: str | None = None  # one of MODES
    problems: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # URL parameters whose value was ignored
    raw: dict[str, str] = field(default_factory=dict)
    from_search: bool = False  # the search box held `name:value` terms

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
            "q": as_typed(self.q) if self.q else None,
            "code": self.code,
            "http": str(self.http_status) if self.http_status else None,
            "group": self.fingerprint,
            "since": self.since,
            "source": self.source,
            "mode": self.mode,
        }
        return {name: value for name, value in args.items() if value is not None}


def as_typed(text: str) -> str:
    """Free text as the search box reads it back: quoted when a word looks like a term."""
    if NAMED_TERM.search(text) and '"' not in text:
        return f'"{text}"'
    return text


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
    mode = StringField(
        filters=[strip],
        validators=[one_of(MODES, "The mode must be test or live; it was ignored.")],
    )
    key = StringField(filters=[strip])
    # `from` is a Python keyword: set below, as the form's metaclass allows.
    to = StringField(filters=[strip], validators=[iso_date("to")])

    def __init__(self, formdata: Mapping[str, str], user: User) -> None:
        self.user = user
        self.typed = (formdata.get("q") or "").strip()
        formdata, self.search_problems, self.from_search = search_terms(formdata, user)
        super().__init__(formdata=formdata)

    def validate_key(self, field) -> None:
        field.key_id = own_key_id(self.user, field.data) if field.data else None
        if field.data and field.key_id is None:
            raise ValidationError("That key is not one of your keys; the key filter was ignored.")

    def as_filter(self) -> LogFilter:
        """Validate and read the filters: values with an error are left out and explained."""
        self.validate()
        filters = LogFilter(raw={name: self[name].data for name in FILTER_PARAMS})
        filters.from_search = self.from_search
        for name in PROBLEM_ORDER:
            if self[name].errors:
                filters.reject(name, self[name].errors[0])
        for problem in self.search_problems:
            filters.reject("q", problem)
        if self.search_problems:
            filters.raw["q"] = self.typed  # shown again in the box, to be corrected

        def valid(name: str):
            return None if self[name].errors or not self[name].data else self[name].data

        filters.tool, filters.version, filters.q = valid("tool"), valid("version"), valid("q")
        filters.code, filters.fingerprint = valid("code"), valid("group")
        filters.status, filters.since, filters.source = (
            valid("status"),
            valid("since"),
            valid("source"),
        )
        filters.mode = valid("mode")
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


def search_terms(args: Mapping[str, str], user: User) -> tuple[MultiDict, list[str], bool]:
    """The query string with the search box's `name:value` terms (in `q`) moved into their own
    parameters, what is left as `q`; also the problems (unknown names) and whether any term
    was found. A term overrides the parameter a control sent."""
    expanded = MultiDict(args)
    query = (args.get("q") or "").strip()
    if ":" not in query:
        return expanded, [], False
    words, problems, found = [], [], False
    for match in TERM.finditer(query):
        name, value = (
            match["name"],
            match["quoted"] if match["quoted"] is not None else match["bare"],
        )
        if name is None:
            words.append(value)
            continue
        param = SEARCH_TERMS.get(name.lower())
        if param is None:
            problems.append(
                f"“{name}” is not a filter (use status, tool, version, key, code, since, from, "
                f"to, source, mode); “{name}:{value}” was ignored."
            )
            continue
        found = True
        if param == "status" and value.isdigit():
            param = "http"
        elif param == "status" and value.lower() == "refused":
            value = "rejected"
        elif param == "key":
            value = key_written_as(user, value)
        elif param == "mode":
            value = value.lower()
        expanded.setlist(param, [value])
    expanded.setlist("q", [" ".join(words)])
    return expanded, problems, found


def key_written_as(user: User, value: str) -> str:
    """The id of the user's key named, prefixed or identified by `value` (else `value` as
    given, which the key filter then refuses)."""
    try:
        uuid.UUID(value)
    except ValueError:
        pass
    else:
        return value
    for key in db.session.scalars(sa.select(ApiKey).where(ApiKey.user_id == user.id)):
        if value == key.prefix or value.rstrip("…") == key.prefix or value == key.name:
            return str(key.id)
    return value


def own_key_id(user: User, value: str) -> uuid.UUID | None:
    """The id of the user's key written as `value`; None for a malformed or foreign id."""
    try:
        key_id = uuid.UUID(value)
    except ValueError:
        return None
    return db.session.scalar(
        sa.select(ApiKey.id).where(ApiKey.id == key_id, ApiKey.user_id == user.id)
    )


@dataclass(frozen=True)
class Chip:
    """One applied filter as the list shows it: `name: value`, and the list without it."""

    param: str  # the URL parameter it stands for
    name: str  # as typed in the search box
    value: str
    without: dict[str, str]  # the list's URL parameters once it is removed


def chips_of(filters: LogFilter, keys: list[ApiKey]) -> list[Chip]:
    """Every applied filter but the free-text search (the box shows that), in URL order."""
    args = filters.query_args()
    names = {
        key.id: f"deleted key {key.prefix}…" if key.deleted_at else key.name or key.prefix
        for key in keys
    }
    shown = {
        "status": filters.status,
        "http": str(filters.http_status) if filters.http_status else None,
        "tool": filters.tool,
        "version": filters.version,
        "key": names.get(filters.key_id) if filters.key_id else None,
        "code": filters.code,
        "since": SINCE_WORDS.get(filters.since) if filters.since else None,
        "from": args.get("from"),
        "to": args.get("to"),
        "source": filters.source,
        "mode": filters.mode,
        "group": filters.fingerprint[:8] if filters.fingerprint else None,
    }
    typed = {"http": "status", "since": "period", "group": "error group"}
    return [
        Chip(
            param=param,
            name=typed.get(param, param),
            value=value,
            without={name: arg for name, arg in args.items() if name != param},
        )
        for param, value in shown.items()
        if value
    ]
