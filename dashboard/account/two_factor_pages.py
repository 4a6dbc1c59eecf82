"""The account's two-factor pages: set up with a QR code, see recovery codes once, turn off."""

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_limiter import RequestLimit
from flask_login import current_user, login_required

from dashboard.account.forms import DisableTwoFactorForm
from dashboard.account.routes import (
    bp,
    password_checks,
    too_many_wrong_passwords,
    wrong_password,
)
from dashboard.auth import two_factor
from dashboard.auth.forms import TwoFactorCodeForm
from dashboard.auth.history import record_security_event
from dashboard.auth.passwords import password_matches
from dashboard.customer_only import customer_only
from dashboard.extensions import limiter

# The secret being set up waits in the (server-side) session until a code proves the app has it.
PENDING_SECRET = "two_factor_pending_secret"  # noqa: S105 (a session key name)


def pending_secret() -> str:
    secret = session.get(PENDING_SECRET)
    if not secret:
        secret = session[PENDING_SECRET] = two_factor.new_secret()
    return secret


def render_setup(form=None, status=200):
    secret = pending_secret()
    uri = two_factor.provisioning_uri(secret, current_user.email)
    response = current_app.make_response(
        (
            render_template(
                "account/two_factor.html",
                form=form or TwoFactorCodeForm(formdata=None),
                disable_form=DisableTwoFactorForm(formdata=None),
                secret=secret,
                qr=two_factor.qr_svg(uri),
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/two-factor")
@login_required
@customer_only
def two_factor_page():
    """Set up two-factor sign-in, or see that it is on and turn it off."""
    return render_setup()


@bp.post("/two-factor")
@login_required
@limiter.limit("10/minute", key_func=lambda: f"totp-setup:{current_user.get_id()}")
def enable_two_factor():
    """Turn two-factor on once a code from the app matches; show the recovery codes once."""
    form = TwoFactorCodeForm()
    if current_user.two_factor_enabled:
        return redirect(url_for("account.two_factor_page"), 303)
    if form.validate_on_submit():
        secret = pending_secret()
        step = two_factor.code_step(secret, form.code.data)
        if step is not None:
            codes = two_factor.enable(current_user, secret, step)
            session.pop(PENDING_SECRET, None)
            record_security_event(current_user, "two_factor.enable")
            response = current_app.make_response(
                render_template("account/recovery_codes.html", codes=codes)
            )
            response.headers["Cache-Control"] = "no-store"
            return response
        form.code.errors.append("That code is not right. Check the app's clock and try again.")
    return render_setup(form=form, status=422)


def two_factor_page_refused(limit: RequestLimit):
    too_many_wrong_passwords(limit)
    return render_setup(status=429)


@bp.post("/two-factor/disable")
@login_required
@password_checks(on_breach=two_factor_page_refused)
def disable_two_factor():
    """Turn two-factor off, given the password."""
    form = DisableTwoFactorForm()
    if form.validate_on_submit():
        if password_matches(current_user.password_hash, form.password.data):
            two_factor.disable(current_user)
            record_security_event(current_user, "two_factor.disable")
            flash("Two-factor sign-in is off.", "info")
            return redirect(url_for("account.index"), 303)
        wrong_password()
        form.password.errors.append("That is not your password.")
    flash("Two-factor sign-in is still on: the password was not right.", "danger")
    return redirect(url_for("account.two_factor_page"), 303)
