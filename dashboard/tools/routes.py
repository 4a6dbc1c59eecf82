"""The tools catalog: what each tool does, its versions, its input schema, how to call it."""

import json

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from dashboard.tools.service import (
    catalog,
    example_answer,
    example_curl,
    input_fields,
    served_version,
)

bp = Blueprint("tools", __name__, url_prefix="/tools", cli_group="tools")


@bp.get("/")
@login_required
def index():
    """Every served tool, with its versions."""
    return render_template("tools/index.html", tools=catalog())


@bp.get("/<name>")
@bp.get("/<name>/<version>")
@login_required
def show(name: str, version: str | None = None):
    """One tool version: its input, an example call and answer."""
    found = served_version(name, version)
    if found is None:
        abort(404)
    tool, versions = found
    answer = example_answer(tool)
    return render_template(
        "tools/show.html",
        tool=tool,
        versions=versions,
        fields=input_fields(tool),
        curl=example_curl(tool, request.host_url),
        schema_json=json.dumps(tool.input_schema, indent=2, ensure_ascii=False),
        answer_json=json.dumps(answer, indent=2, ensure_ascii=False) if answer else None,
    )
