"""An organisation's people, seen by them: the invitation page (members pages come next)."""

from dashboard.members.routes import bp

__all__ = ["bp"]
