"""Sign up, log in, log out, and the pages opened from emailed links."""

from dashboard.auth import links, outbox  # noqa: F401 (register their pages on bp)
from dashboard.auth.routes import bp

__all__ = ["bp"]
