"""The API keys page: list, create, edit, expire, roll and delete keys.

Every action is its own view, so that access rules (e.g. no key secrets while support staff
impersonate a customer) can be added as decorators. Each works as a plain form post (303 back to
the list) and in place with htmx (the section or the row is re-rendered, flashes out of band).
"""

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from dashboard.alerts.key_events import Actor
from dashboard.audit import record_event
from dashboard.customer_only import customer_only
from dashboard.keys import activity
from dashboard.keys.forms import CreateKeyForm, DeleteKeyForm, EditKeyForm, RollKeyForm
from dashboard.keys.rules import key_status, shown_status, stopped_at
from dashboard.keys.service import (
    GRACE_PERIODS,
    KeyLimitReached,
    KeyNotActive,
    KeyNotMovable,
    create_key_within_plan,
    delete_key,
    expire_key,
    expiry_from_choice,
    key_limit_message,
    key_of,
    keys_of,
    move_key,
    roll_key,
    rolled_from,
    rolled_pairs_together,
    stop_delay_phrase,
    tool_choices,
    update_key,
)
from dashboard.models import utcnow
from dashboard.organisations.current import acting, acts_on, current_account, switch_to
from dashboard.organisations.roles import Permission, allows
from dashboard.organisations.service import accounts_of
from dashboard.plans import plan_named
from dashboard.templating import fragment_request

bp = Blueprint("keys", __name__, url_prefix="/keys")

# The secret of a key made by a plain form post waits here for exactly one display: in the
# session data on the server (database or Redis), never in the cookie, which holds only an id.
NEW_SECRET_SESSION_KEY = "keys_new_secret"  # noqa: S105 (a session key name)
NOT_ROLLABLE = {
    "rolled": "was already rolled",
    "expired": "has expired",
    "revoked": "was revoked",
    "playground": "belongs to the playground",
}


@bp.after_request
def never_cache(response):
    """Key pages may hold a one-time secret: no cache keeps them; htmx and plain differ."""
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


def own_key_or_404(key_id: str, playground: bool = False):
    """The current user's key, or 404 for anyone else's key and for malformed ids (and for the
    playground's keys, unless `playground`: they are read and expired, never changed)."""
    key = key_of(current_account, key_id)
    if key is None or (key.is_playground and not playground):
        abort(404)
    return key


def current_plan():
    return plan_named(current_account.subscription_plan)


def settings_form(form_class, **kwargs):
    """A create or edit form bound to the user's plan and the tool list."""
    tools = kwargs.pop("tools", None) or tool_choices()
    return form_class(plan=current_plan(), tools=tools, **kwargs)


def page_context(create_form=None, new_secret=None, new_key=None, replaced=None) -> dict:
    """Everything the list section needs."""
    now = utcnow()
    keys = rolled_pairs_together(keys_of(current_account, playground=False))
    plan = current_plan()
    active = sum(1 for key in keys if key_status(key, now) in ("active", "rolled"))
    return {
        "keys": keys,
        "keys_by_id": {key.id: key for key in keys},
        "rolled_from": {key.replaced_by_id: key for key in keys if key.replaced_by_id},
        "now": now,
        "stopped_at": stopped_at,
        "tomorrow": (now + timedelta(days=1)).date().isoformat(),
        "key_status": key_status,
        "shown_status": shown_status,
        "plan": plan,
        "active_count": active,
        "at_limit": active >= plan.max_active_keys,
        "limit_message": key_limit_message(plan),
        "stop_delay": stop_delay(),
        "create_form": create_form or settings_form(CreateKeyForm, formdata=None),
        "new_secret": new_secret,
        "new_key": new_key,
        "replaced": replaced,
        "playground_key": current_playground_key(now),
    }


def current_playground_key(now):
    """The playground's key while it works (the list names it apart; the cap ignores it)."""
    keys = (key for key in keys_of(current_account) if key.is_playground)
    return next((key for key in keys if key_status(key, now) == "active"), None)


def render_section(status: int = 200, **context):
    """The whole page, or for htmx the list section with out-of-band flashes."""
    template = "keys/_section.html" if request.htmx else "keys/index.html"
    return render_template(template, **page_context(**context)), status


def back_to_list(key=None):
    """After a mutation: 303 to the list for plain posts (to `key`'s page when the form came
    from there), the re-rendered section for htmx."""
    if request.htmx:
        return render_section()
    if key is not None and request.form.get("back") == "key":
        return redirect(url_for("keys.show", key_id=key.id), 303)
    return redirect(url_for("keys.index"), 303)


def row_context(key) -> dict:
    return {
        "key": key,
        "now": utcnow(),
        "key_status": key_status,
        "shown_status": shown_status,
        "stopped_at": stopped_at,
        "keys_by_id": {},
        "rolled_from": {},
        "stop_delay": stop_delay(),
        "oob_flashes": bool(request.htmx),
    }


@bp.get("/")
@acts_on(Permission.READ_KEYS)
@login_required
def index():
    """The user's keys, newest first, and the form to create one."""
    shown_once = session.pop(NEW_SECRET_SESSION_KEY, None)
    if shown_once:
        key = key_of(current_account, shown_once.get("key_id", ""))
        if key is not None:
            replaced = key_of(current_account, shown_once.get("replaced_id") or "")
            return render_section(new_secret=shown_once["secret"], new_key=key, replaced=replaced)
    return render_section()


def show_secret_once(key, secret: str, replaced=None):
    """Show a new secret: in the htmx answer, or once on the list after the redirect."""
    if request.htmx:
        return render_section(new_secret=secret, new_key=key, replaced=replaced)
    session[NEW_SECRET_SESSION_KEY] = {
        "key_id": str(key.id),
        "secret": secret,
        "replaced_id": str(replaced.id) if replaced else None,
    }
    return redirect(url_for("keys.index"), 303)


@bp.post("/")
@acts_on(Permission.WRITE_KEYS)
@login_required
def create():
    """Create a key; its secret is shown exactly once."""
    form = settings_form(CreateKeyForm)
    if form.validate_on_submit():
        try:
            key, secret = create_key_within_plan(
                current_account,
                form.name.data,
                rate_limit_per_minute=form.rate_limit_per_minute.data,
                expires_at=expiry_from_choice(form.expiry.data, form.custom_date),
                monthly_call_cap=form.monthly_call_cap.data,
                is_test=form.is_test.data,
                actor=current_actor(),
                **form.restrictions(),
            )
        except KeyLimitReached as refusal:
            form.form_errors.append(str(refusal))
        else:
            audit_key("key.create", key)
            flash(
                f"Key “{key.name}” created. Copy its secret now: it is shown only once.",
                "success",
            )
            return show_secret_once(key, secret)
    # htmx only swaps 2xx answers; a plain post says 422.
    return render_section(status=200 if request.htmx else 422, create_form=form)


@bp.get("/<key_id>")
@acts_on(Permission.READ_KEYS)
@login_required
def show(key_id: str):
    """One key's page: calls by outcome, success rate, latency, last use, restrictions and
    history. htmx asks for the key's row instead (e.g. to cancel editing in the list)."""
    key = own_key_or_404(key_id, playground=True)
    if fragment_request():
        return render_template("keys/_row.html", **row_context(key))
    now = utcnow()
    report = activity.key_activity(key, now)
    return render_template(
        "keys/show.html",
        key=key,
        status=key_status(key, now),
        shown=shown_status(key, now),
        stopped=stopped_at(key, now),
        successor=key_of(current_account, key.replaced_by_id) if key.replaced_by_id else None,
        predecessor=rolled_from(key),
        report=report,
        last_call=activity.last_call(key),
        history=activity.key_history(key, now),
        move_targets=move_targets(key),
        month_cap=activity.month_cap_gauge(key, now),
        **activity.key_figures(report),
    )


def move_targets(key) -> list:
    """The organisations a key of the person's own account may move to: those they manage."""
    if acting().organisation is not None or key.is_playground or g.get("impersonation"):
        return []
    return [
        choice
        for choice in accounts_of(current_user)
        if choice.organisation and allows(choice.role, Permission.WRITE_SETTINGS)
    ]


@bp.post("/<key_id>/move")
@acts_on(Permission.WRITE_KEYS)
@login_required
def move(key_id: str):
    """Move a key of the person's own account, with its history, to an organisation they
    manage (an owner or admin there)."""
    key = own_key_or_404(key_id)
    chosen = request.form.get("account", "")
    target = next((c for c in move_targets(key) if str(c.account.id) == chosen), None)
    if target is None:
        flash("Choose an organisation where you are an owner or admin.", "error")
        return redirect(url_for("keys.show", key_id=key.id), 303)
    try:
        moved = move_key(key, target.account)
    except KeyNotMovable as refusal:
        flash(str(refusal), "error")
        return redirect(url_for("keys.show", key_id=key.id), 303)
    details = {"to": str(target.account.id), "keys": [str(k.id) for k in moved]}
    audit_key("key.move", key, **details)
    record_event(
        "key.move",
        actor=current_user,
        subject=target.account,
        details={
            "key_id": str(key.id),
            "key_prefix": key.prefix,
            "key_name": key.name,
            "from": str(current_user.id),
            "keys": details["keys"],
        },
    )
    switch_to(current_user, str(target.account.id))
    flash(f"Key “{key.name}” moved to {target.name}, which is the account open now.", "success")
    return redirect(url_for("keys.show", key_id=key.id), 303)


def current_actor() -> Actor:
    """Who acts, as key events name them: the support person while they view as the customer
    (support's own record, not the customer's), else the person logged in."""
    impersonator = g.get("impersonator")
    if g.get("impersonation") is not None and impersonator is not None:
        return Actor.support(impersonator)
    return Actor.member(current_user)


def audit_key(action: str, key, **details) -> None:
    """Put a change to a key in its history (audit_events). While support views the account,
    the support side records its own writes (with the support person as the actor)."""
    if g.get("impersonation") is not None:
        return
    details = {"key_id": str(key.id), "key_prefix": key.prefix, "key_name": key.name, **details}
    record_event(action, actor=current_user, subject=current_account, details=details)


def edit_form_for(key):
    """The edit form: the posted values, or on GET the key's current settings."""
    # A tool deactivated since stays choosable on a key that already allows it.
    tools = sorted(set(tool_choices()) | set(key.allowed_tools or []))
    data = {
        "name": key.name,
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "monthly_call_cap": key.monthly_call_cap,
        "allowed_tools": key.allowed_tools or [],
        "allowed_ips": "\n".join(key.allowed_ips or []),
    }
    return settings_form(EditKeyForm, tools=tools, data=data)


def id_prefix(key) -> str:
    """A prefix for the ids of a key's forms, unique on the page."""
    return f"key-{key.id.hex[:12]}-"


def render_edit(key, form, status=200):
    form.use_id_prefix(id_prefix(key))
    template = "keys/_edit_row.html" if request.htmx else "keys/edit.html"
    return render_template(template, key=key, form=form, id_prefix=id_prefix(key)), status


@bp.get("/<key_id>/edit")
@acts_on(Permission.WRITE_KEYS)
@login_required
@customer_only
def edit_form(key_id: str):
    """The form to change a key's name, rate limit and restrictions."""
    key = own_key_or_404(key_id)
    return render_edit(key, edit_form_for(key))


@bp.post("/<key_id>/edit")
@acts_on(Permission.WRITE_KEYS)
@login_required
def edit(key_id: str):
    """Save a key's name, rate limit and restrictions."""
    key = own_key_or_404(key_id)
    form = edit_form_for(key)
    if not form.validate_on_submit():
        return render_edit(key, form, status=200 if request.htmx else 422)
    settings = {
        "name": form.name.data,
        "rate_limit_per_minute": form.rate_limit_per_minute.data,
        "monthly_call_cap": form.monthly_call_cap.data,
        **form.restrictions(),
    }
    changed = activity.changed_settings(key, **settings)
    update_key(key, **settings)
    if changed:
        audit_key("key.edit", key, changed=changed)
    flash(f"Key “{key.name}” saved.", "success")
    if request.htmx:
        return render_template("keys/_row.html", focus_edit=True, **row_context(key))
    return redirect(url_for("keys.index"), 303)


@bp.get("/<key_id>/expire")
@acts_on(Permission.WRITE_KEYS)
@login_required
def confirm_expire(key_id: str):
    """Ask before expiring a key (the page for browsers without JavaScript)."""
    key = own_key_or_404(key_id)
    from_key_page = request.args.get("back") == "key"
    return render_template("keys/expire.html", from_key_page=from_key_page, **row_context(key))


@bp.post("/<key_id>/expire")
@acts_on(Permission.WRITE_KEYS)
@login_required
def expire(key_id: str):
    """Expire a key now."""
    key = own_key_or_404(key_id, playground=True)
    if shown_status(key, utcnow()) == "expired":
        flash(f"Key “{key.name}” has already expired.", "info")
    else:
        expire_key(key, actor=current_actor())
        audit_key("key.expire", key)
        delay = stop_delay()
        flash(f"Key “{key.name}” expired. It stops working {delay}.", "success")
    return back_to_list(key)


def stop_delay() -> str:
    """How soon an expired key stops working on every worker."""
    config = current_app.config
    shared = config["RATELIMIT_STORAGE_URI"].startswith(("redis", "rediss", "valkey"))
    return stop_delay_phrase(config["API_KEY_CACHE_SECONDS"], shared)


def render_roll(key, form, status=200):
    template = "keys/_roll_row.html" if request.htmx else "keys/roll.html"
    context = row_context(key)
    return render_template(template, form=form, id_prefix=id_prefix(key), **context), status


@bp.get("/<key_id>/roll")
@acts_on(Permission.WRITE_KEYS)
@login_required
@customer_only
def roll_form(key_id: str):
    """The form to roll a key: choose how long the old one keeps working."""
    key = own_key_or_404(key_id)
    return render_roll(key, RollKeyForm())


@bp.post("/<key_id>/roll")
@acts_on(Permission.WRITE_KEYS)
@login_required
def roll(key_id: str):
    """Replace a key by a new one (new secret shown once); the old one works for a grace."""
    key = own_key_or_404(key_id)
    form = RollKeyForm()
    if not form.validate_on_submit():
        return render_roll(key, form, status=200 if request.htmx else 422)
    try:
        successor, secret = roll_key(key, GRACE_PERIODS[form.grace.data], actor=current_actor())
    except KeyLimitReached as refusal:
        flash(str(refusal), "error")
        return back_to_list()
    except KeyNotActive as refusal:
        flash(
            f"Key “{key.name}” {NOT_ROLLABLE.get(str(refusal), 'is not active')}: "
            "only an active key can be rolled. Create a new key instead.",
            "error",
        )
        return back_to_list()
    audit_key("key.roll", key, successor_id=str(successor.id))
    flash(f"Key “{key.name}” rolled. Copy the new secret now: it is shown only once.", "success")
    return show_secret_once(successor, secret, replaced=key)


def render_delete(key, form, status=200):
    return render_template("keys/delete.html", form=form, **row_context(key)), status


@bp.get("/<key_id>/delete")
@acts_on(Permission.WRITE_KEYS)
@login_required
@customer_only
def confirm_delete(key_id: str):
    """Ask before deleting a key: its name typed again."""
    key = own_key_or_404(key_id)
    return render_delete(key, DeleteKeyForm(key=key))


@bp.post("/<key_id>/delete")
@acts_on(Permission.WRITE_KEYS)
@login_required
@customer_only
def delete(key_id: str):
    """Delete a key: it stops now (like Expire) and leaves the lists; its logged calls and
    the month's usage keep it, named "deleted key <prefix>". Cannot be undone."""
    key = own_key_or_404(key_id)
    form = DeleteKeyForm(key=key)
    if not form.validate_on_submit():
        return render_delete(key, form, status=422)
    delete_key(key, actor=current_actor())
    audit_key("key.delete", key)
    flash(
        f"Key “{key.name or key.prefix}” deleted. It stops working {stop_delay()}; "
        "its calls stay in the logs and usage.",
        "success",
    )
    return redirect(url_for("keys.index"), 303)
