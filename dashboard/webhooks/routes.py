"""The webhooks page: add endpoints, choose events, test, rotate, disable, read the delivery log.

A new or rotated secret waits in the session for exactly one display (as API keys do). Test and
resend update the delivery log in place with htmx; every action also works as a plain form post.
"""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_required

from dashboard.alerts.events import EVENT_TYPES
from dashboard.extensions import limiter
from dashboard.organisations.current import acts_on, current_account
from dashboard.organisations.roles import Permission
from dashboard.templating import fragment_request
from dashboard.webhooks import service, tasks
from dashboard.webhooks.forms import ActionForm, EndpointForm

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

NEW_SECRET_SESSION_KEY = "webhooks_new_secret"  # noqa: S105 (a session key name)


@bp.after_request
def never_cache(response):
    """Pages may hold a one-time secret; htmx and plain answers differ."""
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


# Test events and resends share one per-account limit: each is a delivery on the job queue.
limit_sends = limiter.shared_limit(
    lambda: current_app.config["WEBHOOK_SEND_RATE_LIMIT"],
    scope="webhook-sends",
    key_func=lambda: f"account:{current_account.get_id()}",
    methods=["POST"],
    error_message=(
        "You have sent many test events and resends in the last minute. "
        "Wait a minute, then try again."
    ),
)


def own_endpoint_or_404(endpoint_id: str):
    endpoint = service.endpoint_of(current_account.id, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


def checked_action() -> None:
    """Refuse an action whose form carries no valid CSRF token."""
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.get("/")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def index():
    """The account's endpoints and the form to add one."""
    return render_index(EndpointForm(formdata=None, event_types=list(EVENT_TYPES)))


def render_index(form, status=200):
    return render_template(
        "webhooks/index.html",
        endpoints=service.endpoints_of(current_account.id),
        deliveries=service.recent_deliveries(current_account.id, limit=10),
        form=form,
        event_types=EVENT_TYPES,
    ), status


@bp.post("/")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def create():
    """Add an endpoint; its secret is shown once on the endpoint's page."""
    form = EndpointForm()
    if not form.validate_on_submit():
        return render_index(form, 422)
    try:
        endpoint, secret = service.create_endpoint(
            current_account.id,
            form.url.data.strip(),
            (form.description.data or "").strip(),
            form.event_types.data,
        )
    except service.TooManyEndpoints:
        form.url.errors.append(f"An account may have at most {service.MAX_ENDPOINTS} endpoints.")
        return render_index(form, 422)
    session[NEW_SECRET_SESSION_KEY] = {"endpoint": str(endpoint.id), "secret": secret}
    flash("Endpoint added. Copy its signing secret now: it is shown only once.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id), 303)


@bp.get("/<endpoint_id>")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def show(endpoint_id: str):
    """One endpoint: settings, actions and its delivery log (the log alone for htmx)."""
    endpoint = own_endpoint_or_404(endpoint_id)
    deliveries = service.deliveries_of(endpoint)
    if fragment_request():
        return render_template(
            "webhooks/_deliveries.html", endpoint=endpoint, deliveries=deliveries
        )
    return render_show(endpoint, EndpointForm(formdata=None, obj=endpoint))


def render_show(endpoint, form, status=200):
    shown = session.get(NEW_SECRET_SESSION_KEY)
    secret = None
    if shown and shown.get("endpoint") == str(endpoint.id):
        secret = session.pop(NEW_SECRET_SESSION_KEY)["secret"]
    return render_template(
        "webhooks/show.html",
        endpoint=endpoint,
        form=form,
        secret=secret,
        deliveries=service.deliveries_of(endpoint),
        action_form=ActionForm(formdata=None),
    ), status


@bp.post("/<endpoint_id>")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def update(endpoint_id: str):
    """Change the URL, description or events."""
    endpoint = own_endpoint_or_404(endpoint_id)
    form = EndpointForm()
    if not form.validate_on_submit():
        return render_show(endpoint, form, 422)
    service.update_endpoint(
        endpoint,
        form.url.data.strip(),
        (form.description.data or "").strip(),
        form.event_types.data,
    )
    flash("Endpoint saved.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id), 303)


@bp.post("/<endpoint_id>/test")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
@limit_sends
def test(endpoint_id: str):
    """Queue a webhook.test event to the endpoint."""
    endpoint = own_endpoint_or_404(endpoint_id)
    checked_action()
    delivery = tasks.send_test(endpoint)
    flash_queued(delivery, "Test event queued.")
    return back_to(endpoint)


@bp.post("/deliveries/<delivery_id>/resend")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
@limit_sends
def resend(delivery_id: str):
    """Send one delivery's message again."""
    delivery = service.delivery_of(current_account.id, delivery_id)
    if delivery is None:
        abort(404)
    checked_action()
    flash_queued(tasks.resend(delivery), "Delivery queued again.")
    return back_to(delivery.endpoint)


@bp.post("/<endpoint_id>/rotate")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def rotate(endpoint_id: str):
    """A new signing secret, shown once; the old one keeps signing during the overlap."""
    endpoint = own_endpoint_or_404(endpoint_id)
    checked_action()
    secret = service.rotate_secret(endpoint)
    session[NEW_SECRET_SESSION_KEY] = {"endpoint": str(endpoint.id), "secret": secret}
    flash("New secret made. Messages carry both signatures until the overlap ends.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id), 303)


@bp.post("/<endpoint_id>/enabled")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def enabled(endpoint_id: str):
    """Disable the endpoint, or enable it again (enabled=1)."""
    endpoint = own_endpoint_or_404(endpoint_id)
    checked_action()
    turn_on = request.form.get("enabled") == "1"
    service.set_enabled(endpoint, turn_on)
    flash("Endpoint enabled." if turn_on else "Endpoint disabled.", "info")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id), 303)


@bp.post("/<endpoint_id>/delete")
@acts_on(Permission.WRITE_WEBHOOKS)
@login_required
def delete(endpoint_id: str):
    """Delete the endpoint and its delivery log."""
    endpoint = own_endpoint_or_404(endpoint_id)
    checked_action()
    service.delete_endpoint(endpoint)
    flash("Endpoint deleted.", "info")
    return redirect(url_for("webhooks.index"), 303)


def flash_queued(delivery, queued_message: str) -> None:
    """Say whether the delivery is on the queue or waits for it (deferred)."""
    if delivery.status == "deferred":
        flash(
            "Saved, but not sent yet: the delivery queue is busy or unavailable. "
            "It will be sent shortly.",
            "warning",
        )
    else:
        flash(queued_message, "info")


def back_to(endpoint):
    """The delivery log in place for htmx; the endpoint's page otherwise."""
    if request.htmx:
        return render_template(
            "webhooks/_deliveries.html",
            endpoint=endpoint,
            deliveries=service.deliveries_of(endpoint),
            oob_flashes=True,
        )
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id), 303)
