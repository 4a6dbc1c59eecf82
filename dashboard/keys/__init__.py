"""API keys."""

from dashboard.keys.routes import bp

__all__ = ["bp"]
