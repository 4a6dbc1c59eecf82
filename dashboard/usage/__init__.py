"""Usage."""

from dashboard.usage.routes import bp

__all__ = ["bp"]
