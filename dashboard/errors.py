"""Error pages for people: never a traceback. (The JSON API app answers its own errors:
dashboard/api/routes.py.)"""

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from redis import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, SecurityError

from dashboard.extensions import db, login_manager
from dashboard.observability.logs import loggable_path

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Forbidden", "You do not have access to this page."),
    404: ("Page not found", "There is nothing here. Check the address, or go back."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "What you sent is larger than we accept."),
    429: ("Too many attempts", "Please wait a minute, then try again."),
    500: ("Something went wrong", "We could not finish that. Nothing you entered was lost."),
    503: (
        "Temporarily unavailable",
        "We cannot reach our database right now. Please try again in a moment.",
    ),
}
PLAIN_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def error_response(status: int, message: str | None = None):
    """The error page for `status` (the JSON API app has its own handlers)."""
    title, default_message = MESSAGES.get(status, MESSAGES[500])
    return render_template(
        "errors/error.html", status=status, title=title, message=message or default_message
    ), status


def refusal_response(message: str, hint: str = ""):
    """403 with a clear message: the error page, or for htmx an alert in the flash area (htmx
    swaps no 4xx answer into its target)."""
    if request.headers.get("HX-Request"):
        response = current_app.make_response(
            (render_template("_refused.html", message=message, hint=hint), 403)
        )
        response.headers["HX-Retarget"] = "#flashes"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return current_app.make_response(error_response(403, f"{message} {hint}".strip()))


def handle_http_exception(error: HTTPException):
    if isinstance(error, SecurityError):
        # A Host that TRUSTED_HOSTS refuses (production): no URL builds for it, so no page.
        return "Bad request: this server does not answer for that host.\n", 400, PLAIN_TEXT
    if error.response is not None:  # made for it, e.g. a form saying why it was refused (429)
        return error.response
    status = error.code or 500
    # A limit that words its own refusal (e.g. webhooks' test events) says it on the page.
    worded = isinstance(error, RateLimitExceeded) and error.limit.error_message
    body, status = error_response(status, error.description if worded else None)
    response = current_app.make_response((body, status))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))  # RFC 9110
    return response


def handle_csrf_error(error: CSRFError):
    return error_response(
        400, "This form has expired or was sent from another site. Reload the page and try again."
    )


def handle_database_down(error: OperationalError):
    db.session.rollback()
    # The page must not ask the database who is logged in: show it as to a visitor.
    g._login_user = login_manager.anonymous_user()
    return error_response(503)


# Redis (sessions) down or silent: a page cannot know who is asking, so it says so and asks
# the person to come back; Retry-After tells a browser or proxy when.
SESSIONS_UNAVAILABLE = "Sessions are unavailable right now. Please try again shortly."
SESSIONS_RETRY_SECONDS = 5


def handle_session_store_down(error: RedisError):
    current_app.logger.warning("Session store (Redis) unavailable: %s", error)
    g._login_user = login_manager.anonymous_user()
    if request.htmx or request.accept_mimetypes.best == "application/json":
        error_body = {"code": "sessions_unavailable", "message": SESSIONS_UNAVAILABLE}
        response = current_app.make_response((jsonify(error=error_body), 503))
    else:
        response = current_app.make_response(error_response(503, SESSIONS_UNAVAILABLE))
    response.headers["Retry-After"] = str(SESSIONS_RETRY_SECONDS)
    return response


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    db.session.rollback()
    current_app.logger.exception("Unhandled error on %s %s", request.method, loggable_path())
    return error_response(500)


def refuse_nul_characters():
    """No page or form takes a NUL character, and PostgreSQL cannot compare or store one: a
    query string or form holding one is refused here, before any view reads it."""
    values = (*request.args.items(multi=True), *request.form.items(multi=True))
    if any("\x00" in name or "\x00" in value for name, value in values):
        return error_response(
            400, "The address or form holds a NUL character (\\0), which nothing here takes."
        )
    return None


def register(app: Flask) -> None:
    """Install the handlers on `app`."""
    app.before_request(refuse_nul_characters)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(RedisError, handle_session_store_down)
    app.register_error_handler(Exception, handle_unexpected)
