"""The super-admin page of the developer portal: its texts and which tools it shows, a link to
see it as the public does, and the tools whose worked example no longer runs.

The choices override the configuration (PORTAL_*) in dashboard/portal/settings.py, which every
portal page reads; switching the portal on or off stays with PORTAL_ENABLED.
"""

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, url_for
from flask_login import current_user

from dashboard.portal.examples import example_failures
from dashboard.portal.settings import (
    configured_settings,
    portal_settings,
    save_choices,
    stored_choices,
)
from dashboard.support.guards import super_admin_required
from dashboard.support.portal_admin_forms import PortalSettingsForm
from dashboard.tools.served import active_tools

bp = Blueprint("portal_admin", __name__, url_prefix="/support/portal")

# The public landing page, when the portal's pages are served (dashboard/portal/routes.py).
LANDING_ENDPOINT = "portal.landing"


@bp.route("/", methods=["GET", "POST"])
@super_admin_required
def index():
    """The portal's settings, a preview link and the examples that fail."""
    configured = configured_settings()
    row = stored_choices()
    form = PortalSettingsForm(configured=configured, tools=tool_names(configured, row))
    if form.validate_on_submit():
        changed = save_choices(form.choices(), current_user)
        flash("Portal settings saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("portal_admin.index"), 303)
    if not form.is_submitted():
        form.fill(row)
    response = make_response(
        render_template(
            "portal_admin/index.html",
            form=form,
            settings=portal_settings(),
            preview_url=preview_url(),
            failures=example_failures(),
            row=row,
        ),
        400 if form.errors else 200,
    )
    response.headers["Vary"] = "HX-Request"
    return response


def tool_names(configured, row) -> list[str]:
    """The tools to tick: those the API serves, and any named in the settings but not served
    now (so that they can be unticked)."""
    names = set(active_tools().versions)
    names |= configured.public_tools or set()
    names |= set(row.public_tools or []) if row else set()
    return sorted(names)


def preview_url() -> str | None:
    """The public landing page's URL, or None while the portal is off or not served."""
    if not current_app.config["PORTAL_ENABLED"]:
        return None
    if LANDING_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(LANDING_ENDPOINT)
