"""Who may reach the console, and what a support person may not do while viewing as a customer."""

from functools import wraps

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    url_for,
)
from flask_login import current_user

from dashboard import errors
from dashboard.customer_only import customer_only, is_customer_only

REFUSED_MESSAGE = "Not allowed while viewing as a customer."
REFUSED_HINT = "Only the customer can do this. End “viewing as” to get back to the console."

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Deny by default: while viewing as a customer, these are the only endpoints that accept a write.
ALLOWED_WRITES = frozenset({"support.end_impersonation", "keys.expire", "auth.logout"})


def refused_reads(app: Flask) -> frozenset[str]:
    """Pages refused even for reading (they reveal secrets or prepare an action only the
    customer may take): the endpoints of the URL map whose views are marked @customer_only."""
    found = app.extensions.get("customer_only_endpoints")
    if found is None:
        found = frozenset(
            endpoint for endpoint, view in app.view_functions.items() if is_customer_only(view)
        )
        app.extensions["customer_only_endpoints"] = found
    return found


def is_impersonating() -> bool:
    """True while the request acts as a customer on behalf of a support person."""
    return g.get("impersonation") is not None


def refused_while_impersonating(endpoint: str | None, method: str) -> bool:
    """The rule the before-request check applies to every request while viewing as a customer."""
    if endpoint in refused_reads(current_app):
        return True
    if endpoint and endpoint.startswith("support.") and endpoint != "support.end_impersonation":
        return True  # the console itself, and so viewing as someone else, waits until the end
    return method not in SAFE_METHODS and endpoint not in ALLOWED_WRITES


def refusal_response():
    """403 with a clear message: the error page, or an alert that htmx shows in the flash area."""
    g.impersonation_refused = True
    response = errors.refusal_response(REFUSED_MESSAGE, REFUSED_HINT)
    if request.htmx:
        response.headers["X-Impersonation-Refused"] = "1"
    return response


def forbidden_while_impersonating(view):
    """Refuse this view with 403 while a support person views as a customer (and mark it)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if is_impersonating():
            return refusal_response()
        return view(*args, **kwargs)

    return customer_only(guarded)


def staff_required(view):
    """Support staff and super admins only; everyone else (anonymous too) gets a plain 404."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_staff:
            abort(404)
        if lacks_two_factor():
            return set_up_two_factor_first()
        return view(*args, **kwargs)

    return guarded


def lacks_two_factor() -> bool:
    """Staff without two-factor sign-in, when the config requires it for the console."""
    return current_app.config["STAFF_REQUIRE_TWO_FACTOR"] and not current_user.two_factor_enabled


def set_up_two_factor_first():
    flash("Turn on two-factor sign-in to open the support console.", "warning")
    return redirect(url_for("account.two_factor_page"), 303)


def super_admin_required(view):
    """Super admins only: support staff are told no (403), everyone else gets a 404."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_super_admin:
            return errors.error_response(403, "Only super admins can see or do this.")
        return view(*args, **kwargs)

    return staff_required(guarded)  # staff's 404 and two-factor check come first
