"""Sign up, log in, log out, and the pages opened from emailed links."""

from dashboard.auth import links  # noqa: F401 (registers its pages on bp)
from dashboard.auth.routes import bp

__all__ = ["bp"]
