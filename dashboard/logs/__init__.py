"""Logs: the user's calls, filtered and paged; one call in full; CSV export; retention purge."""

from dashboard.logs import commands  # noqa: F401 (adds `flask logs purge` to the blueprint)
from dashboard.logs.routes import bp

__all__ = ["bp"]
