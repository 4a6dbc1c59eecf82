"""Support pages (placeholder until the feature lands)."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("support", __name__, url_prefix="/support")


@bp.get("/")
@login_required
def index():
    """Support."""
    return render_template("placeholder.html", title="Support")
