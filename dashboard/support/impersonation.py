"""Viewing as a customer ("impersonation"), built on Flask-Login without logging in as them.

How it works:

- Flask-Login's session key `_user_id` always stays the support person's id: they never log in
  as the customer, and nothing of the customer's (password, sessions, remember cookie) is used.
  Starting adds four session keys: `impersonator_id` (the support person, checked against
  `_user_id`), `impersonation_subject_id`, `impersonation_started_at` (UTC, ISO 8601) and
  `impersonation_reason`.
- `resolve_impersonation` runs before every other before-request function of the app (it is
  put first in the list when the blueprint is registered). It loads the real user through
  Flask-Login, checks that viewing is still allowed and not expired, then sets `g.impersonator`
  (the support person), `g.impersonation` (what the banner shows) and `g._login_user` — the
  per-request cache that Flask-Login's `current_user` reads — to the customer. Every view,
  decorator and template written anywhere in the app then sees the customer without knowing
  about impersonation. Nothing persists: each request decides afresh from the session.
- Why not `login_user(customer)`: it would replace `_user_id`, so forgetting the support person
  would be one bug away, and a remember cookie could outlive the session. Why not wrapping the
  `user_loader`: `login_manager` is one module-level object shared by every app (tests make
  many), and a loader is the wrong place for audit rows, flashes and redirects.
- Writes are denied by default while viewing (see guards.py): only ending, logging out and
  expiring a key go through, and each of those writes an audit row.
- It ends by the banner's button (`end_impersonation`), on log-out (Flask-Login's
  `user_logged_out` signal), after IMPERSONATION_MINUTES (the next request ends it, audits it,
  flashes and goes back to the console), or when it stops being allowed (the support person lost
  the role, the customer became staff, was disabled or deleted).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, user_logged_out

from dashboard.auth.service import user_by_id
from dashboard.keys.service import key_of
from dashboard.models import User, utcnow
from dashboard.support.audit import record_event
from dashboard.support.guards import (
    SAFE_METHODS,
    refusal_response,
    refused_while_impersonating,
)
from dashboard.support.service import NotAllowed, impersonation_refusal

IMPERSONATOR = "impersonator_id"
SUBJECT = "impersonation_subject_id"
STARTED_AT = "impersonation_started_at"
REASON = "impersonation_reason"
SESSION_KEYS = (IMPERSONATOR, SUBJECT, STARTED_AT, REASON)
# These write their own audit row (impersonation.end); other allowed writes get one afterwards.
SELF_AUDITED = frozenset({"support.end_impersonation", "auth.logout"})
# When viewing ended by itself, these still run (as the support person) instead of a redirect.
RUN_AFTER_ENDING = SELF_AUDITED


@dataclass(frozen=True)
class Impersonation:
    """What a request knows about the viewing in progress (the banner shows it)."""

    impersonator: User
    subject: User
    reason: str
    started_at: datetime
    ends_at: datetime

    @property
    def subject_email(self) -> str:
        return self.subject.email

    @property
    def minutes_left(self) -> int:
        return max(0, round((self.ends_at - utcnow()).total_seconds() / 60))


def start_impersonation(actor: User, subject: User, reason: str) -> None:
    """Begin viewing as `subject`; raises NotAllowed with the reason when the rules say no."""
    refusal = impersonation_refusal(actor, subject)
    if refusal:
        raise NotAllowed(refusal)
    started = utcnow()
    record_event("impersonation.start", actor=actor, subject=subject, details={"reason": reason})
    session[IMPERSONATOR] = str(actor.id)
    session[SUBJECT] = str(subject.id)
    session[STARTED_AT] = started.isoformat()
    session[REASON] = reason


def end_impersonation(how: str) -> User | None:
    """Stop viewing, audit how it ended (button/logout/expired/invalid); the customer, if any."""
    if IMPERSONATOR not in session:
        return None
    current = g.get("impersonation")
    actor = current.impersonator if current else user_by_id(session.get(IMPERSONATOR, ""))
    subject = current.subject if current else user_by_id(session.get(SUBJECT, ""))
    details = {"how": how, "reason": session.get(REASON)}
    started = _parse_time(session.get(STARTED_AT))
    if started:
        details["seconds"] = max(0, int((utcnow() - started).total_seconds()))
    record_event("impersonation.end", actor=actor, subject=subject, details=details)
    for key in SESSION_KEYS:
        session.pop(key, None)
    g.pop("impersonation", None)
    g.pop("impersonator", None)
    if current:
        g._login_user = current.impersonator  # the rest of this request is the support person's
    return subject


def _parse_time(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _session_state() -> tuple[str, datetime, str] | None:
    """(subject id, start, reason) from the session, or None when any part is malformed."""
    subject_id = session.get(SUBJECT)
    started = _parse_time(session.get(STARTED_AT))
    reason = session.get(REASON)
    try:
        uuid.UUID(str(subject_id))
    except ValueError:
        return None
    if started is None or not isinstance(reason, str):
        return None
    return subject_id, started, reason


def _back_to_console(subject: User | None):
    """Where a support person lands when viewing ended by itself (303, or HX-Redirect)."""
    real = current_user._get_current_object()
    if real.is_authenticated and real.is_staff and subject is not None:
        target = url_for("support.user_detail", user_id=subject.id)
    elif real.is_authenticated and real.is_staff:
        target = url_for("support.index")
    else:
        target = url_for("auth.home")
    if request.headers.get("HX-Request") == "true":
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def resolve_impersonation():
    """Before every request: act as the customer when viewing is on, valid and not expired."""
    if request.endpoint == "static" or IMPERSONATOR not in session:
        return None
    real = current_user._get_current_object()
    state = _session_state()
    if not real.is_authenticated or state is None or session.get(IMPERSONATOR) != str(real.id):
        end_impersonation("invalid")
        return None
    subject_id, started, reason = state
    subject = user_by_id(subject_id)
    if subject is None or impersonation_refusal(real, subject):
        end_impersonation("invalid")
        flash("Viewing as the customer ended: it is no longer allowed.", "warning")
        return None if request.endpoint in RUN_AFTER_ENDING else _back_to_console(subject)
    ends_at = started + timedelta(minutes=current_app.config["IMPERSONATION_MINUTES"])
    if utcnow() >= ends_at:
        end_impersonation("expired")
        flash(
            f"Viewing as {subject.email} ended by itself after "
            f"{current_app.config['IMPERSONATION_MINUTES']} minutes. "
            "Start again with a reason if you still need it.",
            "warning",
        )
        return None if request.endpoint in RUN_AFTER_ENDING else _back_to_console(subject)
    g.impersonator = real
    g.impersonation = Impersonation(real, subject, reason, started, ends_at)
    g._login_user = subject  # Flask-Login's current_user is now the customer, for this request
    if refused_while_impersonating(request.endpoint, request.method):
        return refusal_response()
    return None


def audit_impersonated_write(response):
    """After an allowed write while viewing as a customer: one audit row, with the outcome."""
    current = g.get("impersonation")
    if (
        current is None
        or request.method in SAFE_METHODS
        or g.get("impersonation_refused")
        or request.endpoint in SELF_AUDITED
    ):
        return response
    details = {"endpoint": request.endpoint, "path": request.path, "status": response.status_code}
    action = "impersonation.action"
    if request.endpoint == "keys.expire":
        action = "key.expire"
        for value in (request.view_args or {}).values():
            key = key_of(current.subject, value)
            if key is not None:
                details["key_prefix"] = key.prefix
                details["key_name"] = key.name
    record_event(action, actor=current.impersonator, subject=current.subject, details=details)
    return response


def end_on_logout(sender, user=None, **extra) -> None:
    """Logging out ends viewing as a customer too (Flask-Login's user_logged_out signal)."""
    if IMPERSONATOR in session:
        end_impersonation("logout")


def banner_context() -> dict:
    """`impersonation` for every template: base.html shows the banner when it is set."""
    return {"impersonation": g.get("impersonation")}


def install(app: Flask) -> None:
    """Run `resolve_impersonation` before anything else reads current_user; listen for log-outs."""
    app.before_request_funcs.setdefault(None, []).insert(0, resolve_impersonation)
    user_logged_out.connect(end_on_logout, sender=app)
