"""The errors inbox: a user's failed calls grouped by tool, version, code and message."""

from dashboard.inbox.routes import bp

__all__ = ["bp"]
