"""Sign up, log in, log out."""

from dashboard.auth.routes import bp

__all__ = ["bp"]
