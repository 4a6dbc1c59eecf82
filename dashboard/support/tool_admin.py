"""The super-admin page for upstream tools: list, add, edit, test, switch on and off.

Versions defined in the catalog file are shown and can be tested, but are changed only in the
file (the file wins; see dashboard/tools/definitions.py). Upstream failures of a test call read
as the API would answer them (dashboard.api.codes.UPSTREAM_CODES).
"""

import json
import uuid

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from dashboard.api.codes import UPSTREAM_CODES
from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.models.types import parse_uuid
from dashboard.support.guards import super_admin_required
from dashboard.support.tool_admin_forms import UpstreamToolForm
from dashboard.tools.definitions import (
    DefinitionError,
    as_definition,
    checked_definition,
    save_definition,
    switch,
)
from dashboard.tools.served import upstream_tool
from dashboard.tools.upstream import Identity, UpstreamFailure, forward

bp = Blueprint("tool_admin", __name__, url_prefix="/support/tools")


def upstream_row(tool_id: str) -> Tool:
    """The upstream version with this id, or 404."""
    row = db.session.get(Tool, parse_uuid(tool_id) or uuid.UUID(int=0))
    if row is None or row.kind != "upstream":
        abort(404)
    return row


def page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/")
@super_admin_required
def index():
    """Every upstream tool version, active or not."""
    rows = db.session.scalars(
        sa.select(Tool).where(Tool.kind == "upstream").order_by(Tool.name, Tool.version)
    )
    return page("tool_admin/index.html", rows=list(rows))


@bp.route("/new", methods=["GET", "POST"])
@super_admin_required
def new():
    """Add an upstream tool version."""
    form = UpstreamToolForm()
    if form.validate_on_submit() and save(form, None):
        return redirect(url_for("tool_admin.index"), 303)
    return page("tool_admin/edit.html", form=form, row=None, status=400 if form.errors else 200)


@bp.route("/<tool_id>", methods=["GET", "POST"])
@super_admin_required
def edit(tool_id: str):
    """Edit a page-defined version; a file-defined one is shown read-only."""
    row = upstream_row(tool_id)
    form = UpstreamToolForm()
    if row.managed_by == "catalog":
        form.fill(as_definition(row))
    elif form.validate_on_submit():
        if save(form, row):
            return redirect(url_for("tool_admin.index"), 303)
    elif not form.is_submitted():
        form.fill(as_definition(row))
    return page("tool_admin/edit.html", form=form, row=row, status=400 if form.errors else 200)


def save(form: UpstreamToolForm, row: Tool | None) -> bool:
    """Check and store the form's definition (and audit it); False with the form's errors."""
    raw = form.raw_definition()
    if row is not None and (raw.get("name"), raw.get("version")) != (row.name, row.version):
        form.name.errors = ["The name and version of a stored tool cannot change."]
        return False
    try:
        definition = checked_definition(raw)
        existing = db.session.scalar(
            sa.select(Tool).where(
                Tool.name == definition["name"], Tool.version == definition["version"]
            )
        )
        if row is None and existing is not None:
            raise DefinitionError("version", f"{definition['name']} {definition['version']} exists")
        outcome = save_definition(db.session, definition, "page", actor=current_user)
    except DefinitionError as error:
        field = getattr(form, error.field, form.name)
        field.errors = [*field.errors, f"{error.reason[0].upper()}{error.reason[1:]}."]
        return False
    db.session.commit()
    flash(f"{definition['name']} {definition['version']} {outcome or 'unchanged'}.", "success")
    return True


@bp.post("/<tool_id>/switch")
@super_admin_required
def toggle(tool_id: str):
    """Switch a page-defined version on or off."""
    row = upstream_row(tool_id)
    if row.managed_by == "catalog":
        flash("This version is defined in the catalog file: change it there and sync.", "warning")
    else:
        switch(db.session, row, not row.is_active, current_user)
        db.session.commit()
        state = "on" if row.is_active else "off"
        flash(f"{row.name} {row.version} is switched {state}.", "success")
    return redirect(url_for("tool_admin.index"), 303)


@bp.post("/<tool_id>/test")
@super_admin_required
def test(tool_id: str):
    """Call the upstream with the example input, as the gateway would; show what came back."""
    row = upstream_row(tool_id)
    tool = upstream_tool(row)
    identity = Identity(str(current_user.id), "admin-test", str(uuid.uuid4()))
    try:
        forwarded = forward(tool, tool.example_input, identity)
        result = {
            "ok": True,
            "summary": f"200 in {forwarded.execution_ms} ms, {forwarded.tokens} tokens",
            "body": json.dumps(forwarded.output, indent=2, ensure_ascii=False),
        }
    except UpstreamFailure as failure:
        code = UPSTREAM_CODES[failure.kind]
        result = {
            "ok": False,
            "summary": f"{code.status} {code} after {failure.execution_ms} ms",
            "body": f"{failure.message}\n{failure.log_message}",
        }
    template = "tool_admin/_test.html" if request.htmx else "tool_admin/test.html"
    return page(template, row=row, result=result)
