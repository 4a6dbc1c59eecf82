"""The usage page: a month's calls, tokens, errors, latency and quota, from the rollups."""

from datetime import date, timedelta

from flask import Blueprint, make_response, render_template, request
from flask_login import current_user, login_required

from dashboard.models import utcnow
from dashboard.usage import charts
from dashboard.usage.service import (
    BadMonth,
    first_run_steps,
    parse_month,
    shift_month,
    usage_report,
)

bp = Blueprint("usage", __name__, url_prefix="/usage")
OLDEST_MONTH = date(2000, 1, 1)  # parse_month refuses anything earlier


@bp.get("/")
@login_required
def index():
    """The month's usage (`?month=YYYY-MM`, this UTC month by default); a fragment for htmx."""
    this_month = utcnow().date().replace(day=1)
    try:
        first, following = parse_month(request.args.get("month"), this_month)
    except BadMonth as error:
        return render_usage(400, error=str(error), first=this_month, this_month=this_month)
    report = usage_report(current_user.id, current_user.subscription_plan, first, following)
    summary = report["summary"]
    active = bool(summary.calls or summary.rejected.rate_limit or summary.rejected.quota)
    figures = charts.month_figures(
        report["series"], report["trend"], summary.month, today=utcnow().date()
    )
    if not active:  # an empty month shows an empty state, not empty charts
        figures = {"trend": figures["trend"]} if any(m["calls"] for m in report["trend"]) else {}
    return render_usage(
        200,
        first=first,
        this_month=this_month,
        report=report,
        active=active,
        figures={name: charts.figure_json(figure) for name, figure in figures.items()},
        latency=charts.daily_latency(report["series"]["histograms"]),
        month_latency={q: charts.latency_percentile(report["histogram"], q) for q in (0.5, 0.95)},
        summaries=charts.summaries(report["series"], report["trend"]),
    )


def render_usage(status: int, *, first: date, this_month: date, **context):
    """The whole page, or only its content for an htmx swap (not for a history restore)."""
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "usage/_content.html" if fragment else "usage/index.html"
    previous = shift_month(first, -1)
    following = shift_month(first, 1)
    response = make_response(
        render_template(
            template,
            first=first,
            month_label=first.strftime("%B %Y"),
            this_month=this_month,
            previous=previous if previous >= OLDEST_MONTH else None,
            next=following if following <= this_month else None,
            resets_on=following,
            last_day=following - timedelta(days=1),
            first_steps=first_run_steps(current_user.id),
            **context,
        ),
        status,
    )
    response.vary.add("HX-Request")
    return response
