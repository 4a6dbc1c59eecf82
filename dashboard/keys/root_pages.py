"""The root keys page (/keys/root/): an account's management API secrets, made and revoked by
its owners and admins; a new secret is shown once."""

from datetime import UTC, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from dashboard.alerts.forms import CheckboxesField
from dashboard.customer_only import customer_only
from dashboard.keys.forms import DayField
from dashboard.keys.root import (
    NAME_MAX,
    SCOPES,
    RootKeyRefused,
    create_root_key,
    revoke_root_key,
    root_key_of,
    root_keys_of,
    working,
)
from dashboard.organisations.current import acts_on, current_account
from dashboard.organisations.roles import Permission

bp = Blueprint("root_keys", __name__, url_prefix="/keys/root")
SHOWN_ONCE = "new_root_secret"


class RootKeyForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[
            InputRequired("Give the root key a name."),
            Length(max=NAME_MAX, message=f"Keep the name to {NAME_MAX} characters."),
        ],
        description="Where it is used, e.g. “CI” or “Terraform”.",
    )
    scopes = CheckboxesField(
        "Scopes",
        choices=[SelectChoice(scope, f"{scope}: {meaning}") for scope, meaning in SCOPES.items()],
        validators=[InputRequired("Choose at least one scope.")],
    )
    expires_on = DayField("Expires on (optional)", validators=[Optional()], format="%Y-%m-%d")
    allowed_ips = TextAreaField(
        "Allowed IPs (optional)",
        validators=[Length(max=2000)],
        description="One IP or network (CIDR) a line; empty: from anywhere.",
    )


def expiry_of(form: RootKeyForm) -> datetime | None:
    day = form.expires_on.data
    return datetime.combine(day, time.min, tzinfo=UTC).replace(tzinfo=None) if day else None


def render_page(form: RootKeyForm, status: int = 200, secret: str | None = None):
    keys = root_keys_of(current_account)
    return render_template(
        "keys/root.html",
        title="Root keys",
        form=form,
        root_keys=keys,
        working={key.id: working(key) for key in keys},
        new_secret=secret,
        scopes=SCOPES,
    ), status


@bp.get("/")
@acts_on(Permission.WRITE_SETTINGS)
@login_required
def index():
    return render_page(RootKeyForm(formdata=None), secret=session.pop(SHOWN_ONCE, None))


@bp.post("/")
@acts_on(Permission.WRITE_SETTINGS)
@login_required
@customer_only  # support viewing as the customer makes no secret in their name
def create():
    form = RootKeyForm()
    if form.validate_on_submit():
        try:
            _, secret = create_root_key(
                current_account,
                current_user,
                form.name.data,
                form.scopes.data,
                expiry_of(form),
                (form.allowed_ips.data or "").splitlines(),
            )
        except RootKeyRefused as refusal:
            form.form_errors.append(str(refusal))
        else:
            session[SHOWN_ONCE] = secret
            flash("Root key created. Copy its secret now: it is shown only once.", "success")
            return redirect(url_for(".index"), 303)
    return render_page(form, status=422)


@bp.post("/<root_key_id>/revoke")
@acts_on(Permission.WRITE_SETTINGS)
@login_required
def revoke(root_key_id: str):
    root_key = root_key_of(current_account, root_key_id)
    if root_key is None:
        abort(404)
    revoke_root_key(root_key, current_user, current_account)
    flash(f"Root key “{root_key.name}” is revoked: its next request is refused.", "success")
    return redirect(url_for(".index"), 303)
