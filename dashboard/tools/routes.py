"""The tools catalog page (placeholder until the registry lands)."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("tools", __name__, url_prefix="/tools", cli_group="tools")


@bp.get("/")
@login_required
def index():
    """The catalog of tools."""
    return render_template("placeholder.html", title="Tools")
