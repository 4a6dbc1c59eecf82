"""The tools catalog: what each tool does, its versions, its input schema, how to call it, and
a playground that runs it (dashboard/catalog/playground.py)."""

import json

from flask import Blueprint, abort, make_response, render_template, request
from flask_login import login_required

from dashboard.catalog.playground import Playground, handle_post
from dashboard.catalog.playground_form import input_fields, input_form_class
from dashboard.customer_only import customer_only
from dashboard.organisations.current import ANY_ROLE, acts_on, current_account
from dashboard.organisations.roles import Permission
from dashboard.templating import fragment_request
from dashboard.tools.service import catalog, example_answer, example_curl, served_version

# The blueprint keeps the name `tools` (endpoints tools.index, tools.show, templates/tools/):
# the pages are the tools' catalog, the package is named for what it is beside the runtime.
bp = Blueprint("tools", __name__, url_prefix="/tools")


@bp.get("/")
@acts_on(ANY_ROLE)
@login_required
def index():
    """Every served tool, with its versions."""
    return render_template("tools/index.html", tools=catalog())


def served_or_404(name: str, version: str | None):
    found = served_version(name, version)
    if found is None:
        abort(404)
    return found


@bp.get("/<name>")
@bp.get("/<name>/<version>")
@acts_on(ANY_ROLE)
@login_required
def show(name: str, version: str | None = None):
    """One tool version: its input, an example call and answer, and its playground."""
    tool, versions = served_or_404(name, version)
    form = input_form_class(tool)(formdata=None)
    form.fill(tool.example_input)
    return tool_page(tool, versions, Playground(form))


@bp.post("/<name>/<version>/playground")
@acts_on(Permission.USE_PLAYGROUND)
@login_required
@customer_only  # support viewing as the customer may not make calls as them
def playground(name: str, version: str):
    """Run the tool through the API with the chosen key (or switch between form and JSON)."""
    tool, versions = served_or_404(name, version)
    form = input_form_class(tool)()  # CSRF was checked before the view (CSRFProtect)
    state = handle_post(form, tool, current_account, request.form.get("action", "run"))
    status = 422 if state.has_errors and not request.htmx else 200  # htmx swaps 2xx only
    if fragment_request():
        page = render_template("tools/_playground.html", tool=tool, playground=state)
    else:
        return tool_page(tool, versions, state, status)
    return no_store(make_response(page, status))


def tool_page(tool, versions, state: Playground, status: int = 200):
    """The whole tool page."""
    answer = example_answer(tool)
    page = render_template(
        "tools/show.html",
        tool=tool,
        versions=versions,
        fields=input_fields(tool),
        curl=example_curl(tool, request.host_url),
        schema_json=json.dumps(tool.input_schema, indent=2, ensure_ascii=False),
        answer_json=json.dumps(answer, indent=2, ensure_ascii=False) if answer else None,
        playground=state,
    )
    return no_store(make_response(page, status))


def no_store(response):
    """A playground may hold a pasted secret: never cached; htmx and plain answers differ."""
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response
