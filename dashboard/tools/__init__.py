"""Tools: the registry in code, its mirror in the `tools` table, and the catalog page."""

from dashboard.tools.routes import bp

__all__ = ["bp"]
