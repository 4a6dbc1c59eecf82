"""Tools: the registry in code, its mirror in the `tools` table, and the catalog page."""

from dashboard.tools import cli  # noqa: F401 (registers `flask tools sync` on bp)
from dashboard.tools.routes import bp

__all__ = ["bp"]
