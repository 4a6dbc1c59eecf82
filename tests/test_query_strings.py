"""Every GET page's query string, walked by Hypothesis on both databases.

Each page declares the parameters it reads (`DECLARED`, taken from the code where the code
lists them); Hypothesis sends each page random mixes of those parameters with plausible,
malformed, huge and duplicated values, and unknown parameters besides. Whatever comes, the
answer is the page, a redirect or a clear 4xx, never a 500. A GET route added later without a
declaration here fails `test_every_get_page_is_declared`.
"""

import urllib.parse
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.logs.filters import FILTER_PARAMS, SINCE_PRESETS
from dashboard.logs.routes import LIST_PARAMS
from dashboard.models import SuperAdmin, Tool
from dashboard.organisations.service import create_organisation
from dashboard.support.forms import AuditFilterForm, SearchForm
from dashboard.tools.sync import sync_tools
from dashboard.webhooks.service import create_endpoint
from tests.conftest import AuthActions


def form_fields(form_class) -> tuple[str, ...]:
    with_meta = form_class.__dict__.items()
    return tuple(name for name, value in with_meta if hasattr(value, "field_class"))


# endpoint: (who opens it, the query parameters it reads). Who: "customer", "admin" (a super
# admin, who sees every staff page), or "visitor" (logged out).
DECLARED = {
    "auth.home": ("customer", ()),
    "account.index": ("customer", ()),
    "account.two_factor_page": ("customer", ()),
    "auth.confirm_email_change": ("customer", ()),
    "alerts.index": ("customer", ()),
    "inbox.index": ("customer", ("days",)),
    "keys.index": ("customer", ()),
    "keys.show": ("customer", ()),
    "keys.edit_form": ("customer", ()),
    "keys.confirm_expire": ("customer", ()),
    "keys.roll_form": ("customer", ()),
    "root_keys.index": ("customer", ()),
    "logs.index": ("customer", LIST_PARAMS),
    "logs.detail": ("customer", ("back",)),
    "logs.export": ("customer", FILTER_PARAMS),
    "logs.newer": ("customer", FILTER_PARAMS),
    "usage.index": ("customer", ("month",)),
    "tools.index": ("customer", ()),
    "tools.show": ("customer", ()),
    "webhooks.index": ("customer", ()),
    "webhooks.show": ("customer", ()),
    "auth.login": ("visitor", ("next",)),
    "auth.login_code": ("visitor", ("next",)),
    "auth.signup": ("visitor", ()),
    "auth.signup_sent": ("visitor", ()),
    "auth.outbox": ("visitor", ()),
    "auth.forgot_password": ("visitor", ()),
    "auth.reset_password": ("visitor", ()),
    "auth.verify_email": ("visitor", ()),
    "organisations.invitation": ("visitor", ()),
    "organisations.new": ("customer", ()),
    "organisations.members": ("customer", ()),
    "support.index": ("admin", (*form_fields(SearchForm), "after")),
    "support.audit": ("admin", (*form_fields(AuditFilterForm), "before")),
    "support.user_detail": ("admin", ()),
    "tool_admin.index": ("admin", ()),
    "tool_admin.new": ("admin", ()),
    "tool_admin.edit": ("admin", ()),
    "portal_admin.index": ("admin", ()),
}
# Not pages: walked elsewhere (the API by Schemathesis, health and metrics by their own tests).
NOT_PAGES = {"static", "observability.live", "observability.ready", "observability.metrics"}

DAY = date(2026, 3, 14)
PLAUSIBLE_VALUES = (
    *SINCE_PRESETS,
    "",
    "0",
    "1",
    "7",
    "30",
    "90",
    "-1",
    "99999999999999999999",
    "2026-03",
    "2026-13",
    "1999-12",
    DAY.isoformat(),
    (DAY + timedelta(days=40)).isoformat(),
    "2026-03-14T10:00",
    "2026-02-30",
    "success",
    "error",
    "rejected",
    "echo",
    "v1",
    "v999",
    "422",
    "rate_limited",
    "playground",
    "api",
    str(uuid.uuid4()),
    "not-a-uuid",
    "/logs/?status=error",
    "https://evil.example/",
    "//evil.example",
    "a" * 5_000,
    "\x00",
    "é€😀",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%",
    "1e308",
    "NaN",
)
VALUE = st.one_of(st.sampled_from(PLAUSIBLE_VALUES), st.text(max_size=40))


@st.composite
def query_strings(draw, declared: tuple[str, ...]) -> str:
    """A query string of declared and unknown parameters, some repeated, or raw garbage."""
    if draw(st.integers(0, 9)) == 0:  # now and then, bytes no form would send
        return draw(st.sampled_from(["%zz", "&&=&", "a=%ff%fe", "=x", "a[]=1&a[]=2", "%00=%00"]))
    names = st.sampled_from([*declared, "page", "zz"]) if declared else st.just("zz")
    pairs = draw(st.lists(st.tuples(names, VALUE), max_size=6))
    return urllib.parse.urlencode(pairs)


@pytest.fixture
def people(app, make_user):
    """{who: (logged-in test client or a visitor's, path arguments of every page)}."""
    sync_tools(db.session, Tool)
    customer = make_user(plan="pro")
    key, _ = create_key(customer, "walked")
    log_id = record_call(
        user_id=customer.id,
        api_key_id=key.id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "hi"},
        output_payload={"echo": "hi", "length": 2},
        status="success",
        execution_time_ms=3,
        tokens_used=1,
    )
    endpoint, _ = create_endpoint(customer.id, "https://example.com/hook", "walked", [])
    organisation = create_organisation(customer, "Walked")
    admin = make_user()
    db.session.add(SuperAdmin(user_id=admin.id, notes="query-string walk"))
    db.session.commit()
    tool_id = db.session.scalar(sa.select(Tool.id).where(Tool.name == "echo"))
    arguments = {
        "key_id": str(key.id),
        "log_id": str(log_id),
        "endpoint_id": str(endpoint.id),
        "user_id": str(customer.id),
        "tool_id": str(tool_id),
        "name": "echo",
        "version": "v1",
        "token": "not-a-real-token",
        "slug": organisation.slug,
    }
    clients = {"visitor": app.test_client()}
    for who, person in (("customer", customer), ("admin", admin)):
        clients[who] = app.test_client()
        AuthActions(clients[who]).login(person)
    return clients, arguments


def get_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.rule.startswith("/api/")
    ]


def test_every_get_page_is_declared(app):
    endpoints = {rule.endpoint for rule in get_rules(app)}
    undeclared = endpoints - set(DECLARED) - NOT_PAGES
    assert not undeclared, f"declare the query parameters of {sorted(undeclared)} in DECLARED"
    assert not set(DECLARED) - endpoints, "DECLARED names a page that no longer exists"


def page_paths(app, endpoint: str, arguments: dict) -> list[str]:
    """The page's URLs (a page may have several rules), with the walk's own objects."""
    with app.test_request_context():
        return sorted(
            {
                url_for(endpoint, **{name: arguments[name] for name in rule.arguments})
                for rule in get_rules(app)
                if rule.endpoint == endpoint
            }
        )


def failure(client, url: str, htmx: bool = False) -> str | None:
    """What went wrong when `client` opened `url`, or None when it answered as it should."""
    response = client.get(url, headers={"HX-Request": "true"} if htmx else {})
    body = response.get_data(as_text=True)  # a streamed export must stream to its end
    if response.status_code >= 500 or "Traceback" in body:
        return f"GET {url}{' (htmx)' if htmx else ''} answered {response.status_code}"
    return None


def test_each_parameter_alone_takes_every_plausible_value(app, people):
    """The sweep that random mixes might miss: every page bare, then every declared parameter
    with every value of the list, alone, as a page or as an htmx fragment."""
    clients, arguments = people
    failures = []
    for endpoint, (who, declared) in DECLARED.items():
        for path in page_paths(app, endpoint, arguments):
            failures.append(failure(clients[who], path))
            for name in declared:
                for value in PLAUSIBLE_VALUES:
                    query = urllib.parse.urlencode({name: value})
                    htmx = len(value) % 2 == 1
                    failures.append(failure(clients[who], f"{path}?{query}", htmx))
    assert [found for found in failures if found] == []


def test_no_query_string_makes_a_page_fail(app, people):
    """Random mixes of declared and unknown parameters, repeated, with random values."""
    clients, arguments = people
    pages = [
        (path, *DECLARED[endpoint])
        for endpoint in sorted(DECLARED)
        for path in page_paths(app, endpoint, arguments)
    ]

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), htmx=st.booleans())
    def walk(data, htmx):
        path, who, declared = data.draw(st.sampled_from(pages), label="page")
        query = data.draw(query_strings(declared), label="query")
        assert failure(clients[who], f"{path}?{query}", htmx) is None

    walk()
