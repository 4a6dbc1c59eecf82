"""The usage page: the last 30 days (or a month) of calls, tokens, errors, latency and quota,
from the rollups."""

from datetime import date

from flask import Blueprint, make_response, render_template, request
from flask_login import login_required

from dashboard.models import utcnow
from dashboard.organisations.current import acts_on, current_account
from dashboard.organisations.roles import Permission
from dashboard.templating import fragment_request
from dashboard.usage import charts
from dashboard.usage.service import (
    BadMonth,
    Period,
    first_run_steps,
    parse_period,
    rolling_period,
    shift_month,
    usage_report,
)

bp = Blueprint("usage", __name__, url_prefix="/usage")
OLDEST_MONTH = date(2000, 1, 1)  # parse_month refuses anything earlier


@bp.get("/")
@acts_on(Permission.READ_USAGE)
@login_required
def index():
    """The last 30 days' usage, or a month's (`?month=YYYY-MM`); a fragment for htmx."""
    today = utcnow().date()
    try:
        period = parse_period(request.args.get("month"), today)
    except BadMonth as error:
        return render_usage(400, error=str(error), period=rolling_period(today), today=today)
    report = usage_report(current_account.id, current_account.subscription_plan, period, today)
    summary = report["summary"]
    active = bool(summary.calls or summary.rejected.rate_limit or summary.rejected.quota)
    figures = charts.month_figures(report["series"], report["trend"], summary.month, today)
    if not active:  # an empty period shows an empty state, not empty charts
        figures = {"trend": figures["trend"]} if any(m["calls"] for m in report["trend"]) else {}
    return render_usage(
        200,
        period=period,
        today=today,
        report=report,
        active=active,
        figures={name: charts.figure_json(figure) for name, figure in figures.items()},
        latency=charts.daily_latency(report["series"]["histograms"]),
        month_latency={q: charts.latency_percentile(report["histogram"], q) for q in (0.5, 0.95)},
        summaries=charts.summaries(report["series"], report["trend"], period.span),
    )


def render_usage(status: int, *, period: Period, today: date, **context):
    """The whole page, or only its content for an htmx swap (not for a history restore)."""
    template = "usage/_content.html" if fragment_request() else "usage/index.html"
    this_month = today.replace(day=1)
    previous = shift_month(period.first, -1)  # the months either side of the one shown
    following = shift_month(period.first, 1)
    response = make_response(
        render_template(
            template,
            period=period,
            first=period.first,
            last_day=period.last_day,
            month_label=period.label,
            this_month=this_month,
            # Arrows step through months; the rolling days have none (the picker has a month).
            previous=previous if previous >= OLDEST_MONTH and not period.rolling else None,
            next=following if following <= this_month and not period.rolling else None,
            # The quota is always a calendar month's: the one shown, or this one.
            quota_current=period.rolling or period.first >= this_month,
            resets_on=shift_month(this_month, 1) if period.rolling else following,
            first_steps=first_run_steps(current_account.id),
            **context,
        ),
        status,
    )
    response.vary.add("HX-Request")
    return response
