"""The logs pages: the filtered list, one call, the CSV export."""

from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import login_required

from dashboard.errors import error_response
from dashboard.keys.service import keys_of
from dashboard.logs import service
from dashboard.logs.curl import first_call_curl, repeat_curl
from dashboard.logs.export import csv_chunks, export_rejected_rows, export_rows
from dashboard.logs.filters import FILTER_PARAMS, LogFilter, chips_of, parse_filters
from dashboard.models import utcnow
from dashboard.models.payloads import truncation_of
from dashboard.organisations.current import acts_on, current_account
from dashboard.organisations.roles import Permission
from dashboard.paging import BadCursor
from dashboard.plans import plan_named
from dashboard.templating import fragment_request

bp = Blueprint("logs", __name__, url_prefix="/logs", cli_group="logs")

LIST_PARAMS = (*FILTER_PARAMS, "after", "before")
BAD_CURSOR = "That page link is broken or out of date, so the newest calls are shown."


def vary(response: Response) -> Response:
    """Tell caches that the answer depends on the htmx headers."""
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return response


@bp.get("/")
@acts_on(Permission.READ_LOGS)
@login_required
def index():
    """The user's calls, newest first, filtered, one keyset page at a time."""
    filters = parse_filters(request.args, current_account)
    if filters.from_search and not filters.problems and not fragment_request():
        # The search box's terms become the list's own parameters: the address to share.
        return redirect(url_for("logs.index", **filters.query_args()), 303)
    if filters.status == "rejected":
        return rejected(filters)
    direction, cursor = "next", request.args.get("after")
    if request.args.get("before"):
        direction, cursor = "prev", request.args["before"]
    problems = list(filters.problems)
    try:
        page = service.page_of_logs(current_account, filters, cursor, direction)
    except BadCursor:
        problems.append(BAD_CURSOR)
        cursor = None
        page = service.page_of_logs(current_account, filters)
    context = {
        "filters": filters,
        "problems": problems,
        "page": page,
        "list_args": list_args(filters, cursor, direction),
        "has_any": bool(page.logs) or service.has_any_logs(current_account),
        "first_curl": first_call_curl(request.url_root),
        "plan": plan_named(current_account.subscription_plan),
        "rejected_total": 0 if filters.status else service.rejected_count(current_account, filters),
        **filters_context(filters),
    }
    if fragment_request():
        response = Response(render_template("logs/_results.html", **context))
        response.headers["HX-Push-Url"] = url_for("logs.index", **context["list_args"])
        return vary(response)
    return vary(Response(render_template("logs/index.html", **context)))


def rejected(filters: LogFilter):
    """The calls refused before logging, one row per key, tool, reason and minute."""
    context = {
        "filters": filters,
        "problems": filters.problems,
        "rows": service.rejected_rows(current_account, filters),
        "limit": service.REJECTED_PAGE_SIZE,
        "rejected_total": service.rejected_count(current_account, filters),
        "list_args": filters.query_args(),
        "plan": plan_named(current_account.subscription_plan),
        **filters_context(filters),
    }
    context["keys_by_id"] = {key.id: key for key in context["keys"]}
    if fragment_request():
        response = Response(render_template("logs/_rejected.html", **context))
        response.headers["HX-Push-Url"] = url_for("logs.index", **context["list_args"])
        return vary(response)
    return vary(Response(render_template("logs/index.html", **context)))


def filters_context(filters: LogFilter) -> dict:
    """What the filters form needs: the controls' choices and the applied filters as chips.
    A fragment carries the form too (swapped out of band), so chips and controls follow."""
    keys = keys_of(current_account, deleted=True)
    return {
        "keys": keys,
        "tool_names": service.tool_names_of(current_account),
        "chips": chips_of(filters, keys),
        "group_origin": error_group_origin(filters),
        "oob": fragment_request(),
    }


def error_group_origin(filters: LogFilter) -> str | None:
    """The errors inbox in the period these calls were opened from (the template adds the
    group's card as the anchor), or None when the list is not narrowed to one error group."""
    if not filters.fingerprint:
        return None
    args = {}
    if filters.date_from:  # the inbox's period sets `from`; the inbox cuts what it cannot show
        args["days"] = max(1, (utcnow().date() - filters.date_from).days + 1)
    return url_for("inbox.index", **args)


def list_args(filters: LogFilter, cursor: str | None, direction: str) -> dict:
    """The URL parameters of the list as shown: valid filters and the page's cursor."""
    args = filters.query_args()
    if cursor:
        args["before" if direction == "prev" else "after"] = cursor
    return args


@bp.get("/newer")
@acts_on(Permission.READ_LOGS)
@login_required
def newer():
    """Whether calls arrived after the first row shown (polled by the first page).

    `newest` is the cursor of that row (not `since`, which is the period filter)."""
    filters = parse_filters(request.args, current_account)
    if not fragment_request():
        return redirect(url_for("logs.index", **filters.query_args()))
    try:
        arrived = service.newer_calls_since(
            current_account, filters, request.args.get("newest", "")
        )
    except BadCursor:
        arrived = False
    return vary(Response(render_template("logs/_newer.html", arrived=arrived, filters=filters)))


@bp.get("/<log_id>")
@acts_on(Permission.READ_LOGS)
@login_required
def detail(log_id: str):
    """One call in full: payloads (or the start of one the log truncated), error, request id,
    and the curl that repeats it."""
    log = service.log_of(current_account, log_id)
    if log is None:
        abort(404)
    input_cut = truncation_of(log.input_payload)
    context = {
        "log": log,
        "key": next(
            (k for k in keys_of(current_account, deleted=True) if k.id == log.api_key_id), None
        ),
        "back_url": back_to_list(request.args.get("back", "")),
        "back": request.args.get("back", ""),
        "curl": None
        if input_cut
        else repeat_curl(request.url_root, log.tool_name, log.tool_version, log.input_payload),
        "input_json": service.pretty_json(log.input_payload),
        "output_json": service.pretty_json(log.output_payload),
        "input_cut": input_cut,
        "output_cut": truncation_of(log.output_payload),
    }
    template = "logs/_detail.html" if fragment_request() else "logs/detail.html"
    return vary(Response(render_template(template, **context)))


def back_to_list(query_string: str) -> str:
    """The list's URL with the filters and page a detail link carried in `back`."""
    pairs = [(n, v) for n, v in parse_qsl(query_string[:4000]) if n in LIST_PARAMS]
    return url_for("logs.index") + (f"?{urlencode(pairs)}" if pairs else "")


@bp.get("/export.csv")
@acts_on(Permission.READ_LOGS)
@login_required
def export():
    """The filtered list as CSV, streamed row by row."""
    filters = parse_filters(request.args, current_account)
    if filters.problems:
        return error_response(400, " ".join(filters.problems))
    if filters.status == "rejected":
        rows = export_rejected_rows(current_account, filters)
    else:
        rows = export_rows(current_account, filters)
    filename = f"tool-logs-{utcnow():%Y-%m-%d}.csv"
    response = Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
