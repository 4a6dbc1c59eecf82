"""The errors inbox page (`/errors/`)."""

from flask import Blueprint, Response, render_template, request
from flask_login import login_required

from dashboard.inbox import service
from dashboard.keys.service import keys_of
from dashboard.organisations.current import acts_on, current_account
from dashboard.organisations.roles import Permission
from dashboard.plans import plan_named
from dashboard.templating import fragment_request

bp = Blueprint("inbox", __name__, url_prefix="/errors")


@bp.get("/")
@acts_on(Permission.READ_LOGS)
@login_required
def index():
    """The user's failed calls grouped by tool, version, error code and message."""
    plan = plan_named(current_account.subscription_plan)
    period = service.parse_period(request.args.get("days"), plan.log_retention_days)
    context = {
        "days": period.days,
        "period_note": period.note,
        "periods": service.periods_for(plan.log_retention_days),
        "groups": service.error_groups(current_account, period.days),
        "keys_by_id": {key.id: key for key in keys_of(current_account, deleted=True)},
        "plan": plan,
        "sparkline": service.sparkline_points,
        "sparkline_days": service.SPARKLINE_DAYS,
    }
    template = "inbox/_groups.html" if fragment_request() else "inbox/index.html"
    response = Response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response
