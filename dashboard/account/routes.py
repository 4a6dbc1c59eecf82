"""The account page."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import RequestLimit
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from dashboard.account.forms import ChangeEmailForm, ChangePasswordForm, DeleteAccountForm
from dashboard.account.service import change_password, delete_account
from dashboard.auth.emails import send_email_change
from dashboard.auth.history import EVENT_WORDS, record_security_event, security_history
from dashboard.auth.passwords import password_matches
from dashboard.auth.routes import wait_words
from dashboard.auth.service import normalise_email
from dashboard.extensions import limiter
from dashboard.models.types import parse_uuid
from dashboard.organisations.service import accounts_of, owned_alone
from dashboard.plans import all_plans, plan_named
from dashboard.sessions.records import (
    active_sessions,
    current_session_id,
    device_name,
    end_current_session,
    end_sessions,
)
from dashboard.sessions.store import fresh_session
from dashboard.stamps import cancel_emailed_links

bp = Blueprint("account", __name__, url_prefix="/account")
EMAIL_PREFIX = "change"  # its password field must not share an id with the others


def wrong_password() -> None:
    """Count this request against the account's budget of wrong passwords."""
    g.wrong_password = True


def password_checks(on_breach):
    """One budget of wrong passwords per account, shared by every form that asks for the
    password again (so guessing on one form does not add tries on another)."""
    return limiter.shared_limit(
        lambda: current_app.config["PASSWORD_CHECK_RATE_LIMIT"],
        scope="password-check",
        key_func=lambda: f"password-check:{current_user.get_id()}",
        methods=["POST"],
        deduct_when=lambda response: g.get("wrong_password", False),
        on_breach=on_breach,
    )


def too_many_wrong_passwords(limit: RequestLimit) -> None:
    flash(
        f"Too many wrong passwords for this account: try again in {wait_words(limit)}. "
        "Until then no password is checked here, not even the right one.",
        "danger",
    )


def account_page_refused(limit: RequestLimit):
    too_many_wrong_passwords(limit)
    return current_app.make_response(render_account(status=429))


def render_account(password_form=None, delete_form=None, email_form=None, status=200):
    return render_template(
        "account/index.html",
        plan=plan_named(current_user.subscription_plan),
        plans=all_plans(),
        password_form=password_form or ChangePasswordForm(formdata=None),
        delete_form=delete_form or DeleteAccountForm(formdata=None),
        email_form=email_form or ChangeEmailForm(formdata=None, prefix=EMAIL_PREFIX),
        **sessions_context(),
        history=security_history(current_user),
        event_words=EVENT_WORDS,
        organisations=accounts_of(current_user)[1:],
    ), status


def sessions_context() -> dict:
    return {
        "sessions": active_sessions(current_user),
        "this_session": current_session_id(),
        "device_name": device_name,
        "sessions_form": FlaskForm(),
    }


def sessions_changed():
    """After ending sessions: the list again for htmx, else back to the account page."""
    if request.htmx:
        return render_template("account/_sessions.html", oob_flashes=True, **sessions_context())
    return redirect(url_for("account.index", _anchor="sessions"), 303)


@bp.get("/")
@login_required
def index():
    """Plan and limits, password, and the danger zone."""
    return render_account()


@bp.post("/password")
@login_required
@password_checks(on_breach=account_page_refused)
def password():
    """Change the password, given the current one."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if change_password(current_user, form.current_password.data, form.new_password.data):
            end_sessions(current_user, "password.change", keep=current_session_id())
            cancel_emailed_links(current_user)
            record_security_event(current_user, "password.change")
            flash("Your password was changed. Every other session was logged out.", "success")
            return redirect(url_for("account.index"), 303)
        wrong_password()
        form.current_password.errors.append("That is not your current password.")
    return render_account(password_form=form, status=422)


@bp.post("/email")
@login_required
@password_checks(on_breach=account_page_refused)
def email():
    """Ask to change the address: a link goes to the new one, a notice to the old one."""
    form = ChangeEmailForm(prefix=EMAIL_PREFIX)
    if form.validate_on_submit():
        new_email = normalise_email(form.new_email.data)
        if not current_user.email_verified:
            form.new_email.errors.append("Confirm your current address first (see the banner).")
        elif new_email == current_user.email:
            form.new_email.errors.append("That is already your address.")
        elif not password_matches(current_user.password_hash, form.password.data):
            wrong_password()
            form.password.errors.append("That is not your password.")
        else:
            send_email_change(current_user, new_email)
            flash(f"We sent a link to {new_email}. Your address changes when you open it.", "info")
            return redirect(url_for("account.index"), 303)
    return render_account(email_form=form, status=422)


@bp.post("/delete")
@login_required
@password_checks(on_breach=account_page_refused)
def delete():
    """Delete the account and everything in it, after confirmation."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        sole = owned_alone(current_user)
        if sole:
            names = ", ".join(organisation.name for organisation in sole)
            form.confirm_email.errors.append(
                f"You are the only owner of {names}: make another member an owner, or delete "
                "the organisation, first."
            )
        elif normalise_email(form.confirm_email.data) != current_user.email:
            form.confirm_email.errors.append("That is not this account's email address.")
        elif not password_matches(current_user.password_hash, form.password.data):
            wrong_password()
            form.password.errors.append("That is not your password.")
        else:
            user = current_user._get_current_object()
            logout_user()
            fresh_session()
            delete_account(user)
            flash("Your account and all its data were deleted.", "info")
            return redirect(url_for("auth.login"), 303)
    return render_account(delete_form=form, status=422)


@bp.post("/sessions/<session_id>/end")
@login_required
def end_session(session_id: str):
    """Log out one browser of this account (this one too, which means logging out here)."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    record_id = parse_uuid(session_id)
    if record_id is None or not end_sessions(current_user, "session.end", only=record_id):
        abort(404)
    record_security_event(current_user, "session.end")
    if record_id == current_session_id():
        logout_user()
        end_current_session("logout")
        fresh_session()
        flash("You are logged out.", "info")
        return redirect(url_for("auth.login"), 303)
    flash("That session is logged out.", "success")
    return sessions_changed()


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    """Log out every browser of this account but this one."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    count = end_sessions(current_user, "logout.others", keep=current_session_id())
    cancel_emailed_links(current_user)
    record_security_event(current_user, "logout.others", {"sessions": count})
    flash(f"Logged out {count} other session{'s' if count != 1 else ''}.", "success")
    return sessions_changed()
