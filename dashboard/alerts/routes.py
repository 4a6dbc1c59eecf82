"""The alerts page: which alerts the account wants, and the latest alerts raised."""

import uuid

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from wtforms.fields import SelectChoice

from dashboard.alerts.forms import AlertSettingsForm
from dashboard.alerts.service import recent_alerts, save_settings, settings_for, watched_key_ids
from dashboard.extensions import db
from dashboard.models import ApiKey
from dashboard.organisations.current import acts_on, current_account
from dashboard.organisations.roles import Permission

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

SETTINGS_FIELDS = (
    "by_email",
    "quota",
    "error_rate",
    "error_rate_percent",
    "error_rate_min_calls",
    "key_expiry",
)


def key_choices(user_id) -> list[SelectChoice]:
    """The account's usable keys as (id, label) checkbox choices."""
    keys = db.session.scalars(
        sa.select(ApiKey)
        .where(
            ApiKey.user_id == user_id,
            ApiKey.revoked_at.is_(None),
            ApiKey.is_active.is_(True),
            ApiKey.is_playground.is_(False),
        )
        .order_by(ApiKey.created_at)
    )
    return [
        SelectChoice(str(key.id), f"{key.name or 'Unnamed key'} ({key.prefix}…)") for key in keys
    ]


def settings_form(formdata=None) -> AlertSettingsForm:
    settings = settings_for(current_account.id)
    form = AlertSettingsForm(formdata=formdata, obj=settings)
    form.watched_keys.choices = key_choices(current_account.id)
    if formdata is None:
        form.watched_keys.data = [str(k) for k in watched_key_ids(current_account.id)]
    return form


def render_alerts(form: AlertSettingsForm, status: int = 200):
    template = "alerts/_settings.html" if request.htmx else "alerts/index.html"
    response = render_template(template, form=form, alerts=recent_alerts(current_account.id))
    return response, status, {"Vary": "HX-Request"}


@bp.get("/")
@acts_on(Permission.READ_USAGE)
@login_required
def index():
    """Alert settings and the latest alerts."""
    return render_alerts(settings_form())


@bp.post("/")
@acts_on(Permission.WRITE_ALERTS)
@login_required
def save():
    """Save the alert settings."""
    form = settings_form(request.form)
    if not form.validate_on_submit():
        return render_alerts(form, 200 if request.htmx else 422)  # htmx swaps only 2xx
    save_settings(
        current_account.id,
        {uuid.UUID(k) for k in form.watched_keys.data},
        **{name: getattr(form, name).data for name in SETTINGS_FIELDS},
    )
    flash("Alert settings saved.", "success")
    if request.htmx:
        return render_alerts(settings_form())
    return redirect(url_for("alerts.index"), 303)
