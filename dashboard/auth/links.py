"""Pages opened from emailed links, and the forms that send them: confirming an address,
resetting a password, confirming a new address. A bad link gets a page that offers a new one."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from dashboard.auth.emails import send_email_changed, send_verification
from dashboard.auth.forms import ForgotPasswordForm, ResetPasswordForm
from dashboard.auth.history import record_security_event
from dashboard.auth.routes import ask_for_code, bp, form_email_key, start_session
from dashboard.auth.service import confirm_email, set_password, switch_email
from dashboard.auth.tasks import queue_reset_link
from dashboard.auth.tokens import (
    CHANGE,
    RESET,
    VERIFY,
    TokenProblem,
    email_change_of,
    user_to_reset,
    user_to_verify,
)
from dashboard.extensions import limiter
from dashboard.sessions.records import end_sessions
from dashboard.stamps import cancel_emailed_links

PROBLEM_TITLES = {
    "expired": "This link has expired",
    "used": "This link was already used",
    "cancelled": "This link was cancelled",
    "invalid": "This link does not work",
}
SENT_WORDS = (
    "If an account uses {email}, we sent it a link to set a new password. "
    "It works once, for {minutes} minutes."
)


def link_problem(problem: TokenProblem):
    """A clear page for an expired, used or broken link, with the way to get a new one."""
    form = ForgotPasswordForm(formdata=None) if problem.purpose == RESET else None
    return render_template(
        "auth/link_problem.html",
        title=PROBLEM_TITLES[problem.reason],
        problem=problem,
        purposes={"verify": VERIFY, "reset": RESET, "change": CHANGE},
        form=form,
    ), 400


@bp.get("/verify/<token>")
def verify_email(token: str):
    """Confirm an address from the emailed link (logged in or not); a fresh sign-up's link also
    logs this browser in, once (two-factor still asks for its code)."""
    try:
        confirmation = user_to_verify(token)
    except TokenProblem as problem:
        return link_problem(problem)
    user = confirmation.user
    claimed = confirm_email(user)
    if claimed:
        record_security_event(user, "email.verify")
    answer = redirect(url_for("auth.home"), 303)
    if claimed and confirmation.signs_in and not current_user.is_authenticated:
        # Each step below starts a fresh session, so the flash comes after it.
        if user.two_factor_enabled:
            answer = ask_for_code(user, None)
        else:
            start_session(user)
    flash(f"Thank you: {user.email} is confirmed.", "success")
    return answer


@bp.post("/verify/resend")
@login_required
@limiter.limit(
    lambda: current_app.config["EMAIL_RATE_LIMIT_PER_USER"],
    key_func=lambda: f"verify:{current_user.get_id()}",
)
def resend_verification():
    """Send the confirmation link again."""
    if current_user.email_verified:
        flash("Your address is already confirmed.", "info")
    elif send_verification(current_user):
        flash(f"We sent a new link to {current_user.email}.", "success")
    else:
        flash("The message could not be sent just now. Try again in a few minutes.", "danger")
    return redirect(request.referrer or url_for("auth.home"), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RESET_RATE_LIMIT_PER_EMAIL"],
    key_func=form_email_key("reset:"),
    methods=["POST"],
)
def forgot_password():
    """Ask for a reset link; the answer, and the work, are the same whether the address has an
    account: one job, which looks the address up and sends the mail on the worker."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        queue_reset_link(form.email.data)
        flash(
            SENT_WORDS.format(
                email=form.email.data, minutes=current_app.config["PASSWORD_RESET_MINUTES"]
            ),
            "info",
        )
        return redirect(url_for("auth.forgot_password"), 303)
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Set a new password from the emailed link; every session of the account ends."""
    try:
        user = user_to_reset(token)
    except TokenProblem as problem:
        return link_problem(problem)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        set_password(user, form.password.data)
        confirm_email(user)  # the link reached the inbox: the address is the account's
        end_sessions(user, "password.reset")
        cancel_emailed_links(user)
        record_security_event(user, "password.reset")
        flash(
            "Your new password is set and every session was logged out. Log in with it.", "success"
        )
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset_password.html", form=form, email=user.email, token=token)


@bp.get("/account/email/<token>")
def confirm_email_change(token: str):
    """Make the new address the account's, from the link sent to it; tell the old one."""
    try:
        change = email_change_of(token)
    except TokenProblem as problem:
        return link_problem(problem)
    old = change.user.email
    if not switch_email(change.user, change.new_email):
        return render_template(
            "auth/link_problem.html",
            title="That address is taken",
            problem=TokenProblem("taken", CHANGE),
            purposes={"verify": VERIFY, "reset": RESET, "change": CHANGE},
            form=None,
        ), 409
    record_security_event(change.user, "email.change", {"from": old, "to": change.new_email})
    send_email_changed(old, change.new_email)
    flash(f"Your address is now {change.new_email}.", "success")
    return redirect(url_for("auth.home"), 303)
