"""JSON API routes: the tool calls, the catalog, usage, the OpenAPI document and health."""

import functools

import psycopg
from flask import Blueprint, jsonify, request
from flask.sessions import SessionInterface
from flask_limiter import Limiter
from flask_talisman import Talisman

from dashboard.api import gateway, openapi
from dashboard.api.answers import ApiError, finish, start_timing
from dashboard.api.catalog import catalog
from dashboard.api.connection import release_raw_connection
from dashboard.errors import handle_database_down
from dashboard.extensions import csrf
from dashboard.models import utcnow
from dashboard.usage.service import BadMonth, month_usage, parse_month

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # programs authenticate with API keys, not cookies


@bp.get("/v1/health")
def health():
    """A liveness check with no database work."""
    return jsonify(status="ok")


# merge_slashes=False: an encoded slash in a name (`/tools/%2F0`) is no tool (JSON 404), not a
# redirect to `/tools/0`.
@bp.post("/v1/tools/<name>", defaults={"version": None}, merge_slashes=False)
@bp.post("/v1/tools/<name>/<version>", merge_slashes=False)
def call_tool(name: str, version: str | None):
    """Run a tool (the newest served version, or a pinned one) for an API key."""
    return gateway.call_tool(name, version)


@bp.get("/v1/tools")
def tools():
    """The catalog: every served tool with its versions, schemas and example input."""
    return jsonify(catalog())


@bp.get("/v1/usage")
def usage():
    """The key owner's usage for ?month=YYYY-MM (default: this UTC month)."""
    key = gateway.key_for_reading()
    month = request.args.get("month")
    try:
        if month and month != month.strip():  # the API takes exactly what its document says
            raise BadMonth(f"“{month[:20]}” is not a month. Use the form YYYY-MM, e.g. 2026-03.")
        first, following = parse_month(month, utcnow().date())
    except BadMonth as error:
        raise ApiError(400, "invalid_month", str(error)) from None
    return jsonify(month_usage(key.user_id, key.subscription_plan, first, following))


def openapi_document():
    """The OpenAPI 3.1 description of this API, with each served tool's schemas."""
    return jsonify(openapi.document())


bp.add_url_rule("/openapi.json", "openapi", openapi_document, methods=["GET"])


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return error.response()


@bp.errorhandler(psycopg.OperationalError)
def database_down(error: psycopg.OperationalError):
    """The hot path talks to psycopg directly: its outage answers 503 like SQLAlchemy's."""
    return handle_database_down(error)


def is_api_request() -> bool:
    return request.path.startswith(bp.url_prefix + "/")


@bp.before_app_request
def start_api_timing() -> None:
    if is_api_request():
        start_timing()


@bp.after_app_request
def finish_api_answer(response):
    """Server-Timing (and rate-limit headers once known) on every /api/ answer, 404s too."""
    return finish(response) if is_api_request() else response


class NoSessionForApi(SessionInterface):
    """The app's session interface, except that /api/ requests get a null session.

    Programs authenticate with keys; an API answer never sets or refreshes a session cookie,
    even when a browser that is logged in to the dashboard calls the API.
    """

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner
        self.null_session_class = inner.null_session_class

    def open_session(self, app, request):
        if request.path.startswith(bp.url_prefix + "/"):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response) -> None:
        self.inner.save_session(app, session, response)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@bp.record_once
def keep_sessions_off_the_api(state) -> None:
    state.app.session_interface = NoSessionForApi(state.app.session_interface)


@bp.record_once
def return_the_hot_path_connection(state) -> None:
    state.app.teardown_appcontext(release_raw_connection)


class SecurityHeadersOnce:
    """Talisman's after_request, except that /api/ answers get headers built once per app.

    Talisman rebuilds the same headers (the CSP text, HSTS, frame and referrer policies) on
    every answer; API views never change them per request, so the first API answer's headers
    (per http/https, which decides HSTS) are remembered and copied onto the next ones.
    """

    def __init__(self, set_headers) -> None:
        self.set_headers = set_headers
        self.remembered: dict[bool, list[tuple[str, str]]] = {}

    def __call__(self, response):
        if not is_api_request():
            return self.set_headers(response)
        secure = request.is_secure
        headers = self.remembered.get(secure)
        if headers is None:
            before = dict(response.headers)
            response = self.set_headers(response)
            self.remembered[secure] = [
                (name, value)
                for name, value in response.headers.items()
                if before.get(name) != value
            ]
            return response
        for name, value in headers:
            response.headers[name] = value
        return response


def not_for_the_api(before_request):
    """A before_request hook that /api/ requests skip."""

    @functools.wraps(before_request)
    def unless_api():
        return None if is_api_request() else before_request()

    return unless_api


@bp.record_once
def lighter_hooks_for_the_api(state) -> None:
    """Talisman's headers built once (SecurityHeadersOnce), and no Flask-Limiter check: it
    guards the login routes only, the gateway counts per key itself, and its before_request
    works out exemptions and limits for every request (profiled: about a fifth of a bare
    request's CPU). The factory binds both extensions before the blueprints."""
    functions = state.app.after_request_funcs.get(None, [])
    for position, function in enumerate(functions):
        if getattr(function, "__func__", None) is Talisman._set_response_headers:
            functions[position] = SecurityHeadersOnce(function)
    functions = state.app.before_request_funcs.get(None, [])
    for position, function in enumerate(functions):
        if getattr(function, "__func__", None) is Limiter._check_request_limit:
            functions[position] = not_for_the_api(function)
