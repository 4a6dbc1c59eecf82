"""API keys pages (placeholder until the feature lands)."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("keys", __name__, url_prefix="/keys")


@bp.get("/")
@login_required
def index():
    """API keys."""
    return render_template("placeholder.html", title="API keys")
