"""Logs pages (placeholder until the feature lands)."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("logs", __name__, url_prefix="/logs")


@bp.get("/")
@login_required
def index():
    """Logs."""
    return render_template("placeholder.html", title="Logs")
