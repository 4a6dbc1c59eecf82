"""Usage pages (placeholder until the feature lands)."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("usage", __name__, url_prefix="/usage")


@bp.get("/")
@login_required
def index():
    """Usage."""
    return render_template("placeholder.html", title="Usage")
