"""Viewing as a customer ("impersonation"), built on Flask-Login without logging in as them.

How it works:

- Flask-Login's session key `_user_id` always stays the support person's id: they never log in
  as the customer, and nothing of the customer's (password, sessions, remember cookie) is used.
- Starting writes an `impersonations` row tied to the support person's sign-in session
  (`user_sessions`): subject, reason, start and end time. The state lives only there, so ending
  it (End, log-out, the time limit, losing the role) holds for every copy of the cookie.
- `resolve_impersonation` runs before every other before-request function of the app (it is
  put first in the list when the blueprint is registered). It loads the real user through
  Flask-Login, finds the open row of this session, checks that viewing is still allowed and not
  expired, then sets `g.impersonator` (the support person), `g.impersonation` (the row; the
  banner shows it) and `g._login_user` — the per-request cache that Flask-Login's
  `current_user` reads — to the customer. Every view, decorator and template then sees the
  customer without knowing about impersonation.
- Why not `login_user(customer)`: it would replace `_user_id`, so forgetting the support person
  would be one bug away, and a remember cookie could outlive the session. Why not wrapping the
  `user_loader`: a loader is the wrong place for audit rows, flashes and redirects.
- Writes are denied by default while viewing (see guards.py): only ending, logging out and
  expiring a key go through. Every request made while viewing, reads included, leaves an audit
  row that names the impersonation row.
- Starting and ending rotate the session id (`rotate_session_id`): a cookie copied before or
  while viewing is worth nothing afterwards.
- It ends by the banner's button (`end_impersonation`), on log-out (Flask-Login's
  `user_logged_out` signal, and the session row ending), after IMPERSONATION_MINUTES (the next
  request ends it, audits it, flashes and goes back to the console), or when it stops being
  allowed (the support person lost the role, the customer became staff, was disabled or deleted).
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    request,
    url_for,
)
from flask_login import current_user, user_logged_out

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.keys.service import key_of
from dashboard.models import Impersonation, User, utcnow
from dashboard.organisations.service import organisation_of
from dashboard.sessions.records import current_session_id
from dashboard.sessions.store import rotate_session_id
from dashboard.support.guards import (
    SAFE_METHODS,
    refusal_response,
    refused_while_impersonating,
)
from dashboard.support.service import NotAllowed, impersonation_refusal, shown_name

# These write their own audit row (impersonation.end); other allowed writes get one afterwards.
SELF_AUDITED = frozenset({"support.end_impersonation", "auth.logout"})
# When viewing ended by itself, these still run (as the support person) instead of a redirect.
RUN_AFTER_ENDING = SELF_AUDITED


def start_impersonation(actor: User, subject: User, reason: str) -> Impersonation:
    """Begin viewing as `subject`; raises NotAllowed with the reason when the rules say no."""
    refusal = impersonation_refusal(actor, subject)
    if refusal:
        raise NotAllowed(refusal)
    session_id = current_session_id()
    if session_id is None:
        raise NotAllowed("Log in again to view as a customer.")
    started = utcnow()
    minutes = current_app.config["IMPERSONATION_MINUTES"]
    viewing = Impersonation(
        session_id=session_id,
        actor_id=actor.id,
        subject_id=subject.id,
        reason=reason,
        started_at=started,
        ends_at=started + timedelta(minutes=minutes),
    )
    db.session.add(viewing)
    db.session.flush()
    record_event(
        "impersonation.start",
        actor=actor,
        subject=subject,
        details={"reason": reason, "impersonation_id": str(viewing.id)},
    )
    rotate_session_id()  # what the browser may do changed: a copied cookie is worth nothing now
    return viewing


def open_impersonation() -> Impersonation | None:
    """The viewing in progress in this browser's session, if any."""
    session_id = current_session_id()
    if session_id is None:
        return None
    return db.session.scalar(
        sa.select(Impersonation)
        .where(Impersonation.session_id == session_id, Impersonation.ended_at.is_(None))
        .order_by(Impersonation.started_at.desc())
        .limit(1)
    )


def end_impersonation(how: str, viewing: Impersonation | None = None) -> User | None:
    """Stop viewing, audit how it ended (button/logout/expired/invalid); the customer, if any."""
    viewing = viewing or g.get("impersonation") or open_impersonation()
    if viewing is None:
        return None
    now = utcnow()
    viewing.ended_at, viewing.ended_how = now, how
    details = {
        "how": how,
        "reason": viewing.reason,
        "impersonation_id": str(viewing.id),
        "seconds": max(0, int((now - viewing.started_at).total_seconds())),
    }
    record_event("impersonation.end", actor=viewing.actor, subject=viewing.subject, details=details)
    rotate_session_id()  # a cookie copied while viewing does not outlive the viewing
    g.pop("impersonation", None)
    impersonator = g.pop("impersonator", None)
    if impersonator is not None:
        g._login_user = impersonator  # the rest of this request is the support person's
    return viewing.subject


def _back_to_console(subject: User | None):
    """Where a support person lands when viewing ended by itself (303, or HX-Redirect)."""
    real = current_user._get_current_object()
    if real.is_authenticated and real.is_staff and subject is not None:
        target = url_for("support.user_detail", user_id=subject.id)
    elif real.is_authenticated and real.is_staff:
        target = url_for("support.index")
    else:
        target = url_for("auth.home")
    if request.htmx:
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def resolve_impersonation():
    """Before every request: act as the customer when viewing is on, valid and not expired."""
    if request.endpoint == "static":
        return None
    viewing = open_impersonation()
    if viewing is None:
        return None
    real = current_user._get_current_object()
    if not real.is_authenticated or real.id != viewing.actor_id:
        end_impersonation("invalid", viewing)
        return None
    subject = viewing.subject
    if subject is None or impersonation_refusal(real, subject):
        end_impersonation("invalid", viewing)
        flash("Viewing as the customer ended: it is no longer allowed.", "warning")
        return None if request.endpoint in RUN_AFTER_ENDING else _back_to_console(subject)
    if utcnow() >= viewing.ends_at:
        end_impersonation("expired", viewing)
        flash(
            f"Viewing as {shown_name(subject)} ended by itself after "
            f"{current_app.config['IMPERSONATION_MINUTES']} minutes. "
            "Start again with a reason if you still need it.",
            "warning",
        )
        return None if request.endpoint in RUN_AFTER_ENDING else _back_to_console(subject)
    g.impersonator = real
    g.impersonation = viewing
    g._login_user = subject  # Flask-Login's current_user is now the customer, for this request
    if refused_while_impersonating(request.endpoint, request.method):
        return refusal_response()
    return None


def audit_impersonated_write(response):
    """After a request while viewing as a customer: one audit row naming the viewing record.

    Reads are `impersonation.read`, allowed writes `impersonation.action` (or `key.expire`).
    """
    current = g.get("impersonation")
    if current is None or g.get("impersonation_refused") or request.endpoint in SELF_AUDITED:
        return response
    details = {
        "endpoint": request.endpoint,
        "path": request.path,
        "status": response.status_code,
        "impersonation_id": str(current.id),
    }
    action = "impersonation.read" if request.method in SAFE_METHODS else "impersonation.action"
    if request.endpoint == "keys.expire":
        action = "key.expire"
        for value in (request.view_args or {}).values():
            key = key_of(current.subject, value)
            if key is not None:
                details["key_prefix"] = key.prefix
                details["key_name"] = key.name
    record_event(action, actor=current.actor, subject=current.subject, details=details)
    return response


def end_on_logout(sender, user=None, **extra) -> None:
    """Logging out ends viewing as a customer too (Flask-Login's user_logged_out signal)."""
    end_impersonation("logout")


def banner_context() -> dict:
    """`impersonation` for every template (base.html shows the banner when it is set), and
    `impersonated_organisation` when the account viewed as is an organisation (the banner names
    it, not its made-up address)."""
    viewing = g.get("impersonation")
    organisation = organisation_of(viewing.subject) if viewing is not None else None
    return {"impersonation": viewing, "impersonated_organisation": organisation}


def install(app: Flask) -> None:
    """Run `resolve_impersonation` before anything else reads current_user; listen for log-outs."""
    app.before_request_funcs.setdefault(None, []).insert(0, resolve_impersonation)
    user_logged_out.connect(end_on_logout, sender=app)
