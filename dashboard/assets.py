"""Front-end files that come from packages rather than from static/: Plotly's bundle."""

from pathlib import Path

import plotly
from flask import Blueprint, send_from_directory

bp = Blueprint("assets", __name__, url_prefix="/assets")

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"


@bp.get("/plotly.min.js")
def plotly_js():
    """The plotly.js bundle shipped inside the plotly wheel, cached for a day."""
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", max_age=86400)
