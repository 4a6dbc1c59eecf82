"""JSON API routes (relative to the /api mount): tool calls, the catalog, usage, the OpenAPI
document and health; and the API app's JSON error handlers."""

import psycopg
import sqlalchemy.exc
from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from dashboard.api import gateway, openapi
from dashboard.api.answers import ApiError, Health, json_response
from dashboard.api.catalog import catalog
from dashboard.api.codes import ErrorCode
from dashboard.extensions import db
from dashboard.models import utcnow
from dashboard.usage.service import BadMonth, month_usage, parse_month

bp = Blueprint("api", __name__)


@bp.get("/v1/health")
def health():
    """A liveness check with no database work."""
    return json_response(Health(status="ok"))


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
    return json_response(catalog())


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
        raise ApiError(ErrorCode.INVALID_MONTH, str(error)) from None
    return json_response(month_usage(key.user_id, key.subscription_plan, first, following))


@bp.get("/openapi.json", endpoint="openapi")
def openapi_document():
    """The OpenAPI 3.1 description of this API, with each served tool's schemas."""
    return jsonify(openapi.document())


HTTP_CODES = {
    400: (ErrorCode.BAD_REQUEST, "The request could not be understood: {description}"),
    404: (ErrorCode.NOT_FOUND, "There is nothing at {path}. See GET /api/openapi.json."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "{path} does not take {method}."),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "The body is larger than we accept."),
}


def api_error(error: ApiError):
    return error.response()


def http_error(error: HTTPException):
    """Werkzeug's own errors (no route, wrong method, bad request) as JSON errors."""
    code, message = HTTP_CODES.get(error.code, HTTP_CODES[400])
    text = message.format(
        path=request.script_root + request.path,
        method=request.method,
        description=error.description,
    )
    response = ApiError(code, text).response()
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))  # RFC 9110
    return response


def database_down(error: Exception):
    """Either driver's outage (the hot path talks to psycopg directly) answers 503."""
    db.session.rollback()
    return ApiError(ErrorCode.DATABASE_UNAVAILABLE, "The database cannot be reached.").response()


def unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return http_error(error)
    db.session.rollback()
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    message = "The gateway failed to answer; nothing was metered. Try again."
    return ApiError(ErrorCode.INTERNAL_ERROR, message).response()


def register_error_handlers(app: Flask) -> None:
    """JSON errors for everything the API app answers: never an HTML page or a traceback."""
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(psycopg.OperationalError, database_down)
    app.register_error_handler(sqlalchemy.exc.OperationalError, database_down)
    app.register_error_handler(Exception, unexpected)
