"""The account page."""

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user

from dashboard.account.forms import ChangePasswordForm, DeleteAccountForm
from dashboard.account.service import change_password, delete_account
from dashboard.auth.passwords import password_matches
from dashboard.auth.service import normalise_email
from dashboard.plans import all_plans, plan_named

bp = Blueprint("account", __name__, url_prefix="/account")


def render_account(password_form=None, delete_form=None, status=200):
    return render_template(
        "account/index.html",
        plan=plan_named(current_user.subscription_plan),
        plans=all_plans(),
        password_form=password_form or ChangePasswordForm(formdata=None),
        delete_form=delete_form or DeleteAccountForm(formdata=None),
    ), status


@bp.get("/")
@login_required
def index():
    """Plan and limits, password, and the danger zone."""
    return render_account()


@bp.post("/password")
@login_required
def password():
    """Change the password, given the current one."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if change_password(current_user, form.current_password.data, form.new_password.data):
            flash("Your password was changed.", "success")
            return redirect(url_for("account.index"), 303)
        form.current_password.errors.append("That is not your current password.")
    return render_account(password_form=form, status=422)


@bp.post("/delete")
@login_required
def delete():
    """Delete the account and everything in it, after confirmation."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if normalise_email(form.confirm_email.data) != current_user.email:
            form.confirm_email.errors.append("That is not this account's email address.")
        elif not password_matches(current_user.password_hash, form.password.data):
            form.password.errors.append("That is not your password.")
        else:
            user = current_user._get_current_object()
            logout_user()
            session.clear()
            delete_account(user)
            flash("Your account and all its data were deleted.", "info")
            return redirect(url_for("auth.login"), 303)
    return render_account(delete_form=form, status=422)
