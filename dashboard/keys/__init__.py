"""API keys."""

from dashboard.keys import commands  # noqa: F401 (adds `flask keys purge-idempotency`)
from dashboard.keys.routes import bp

__all__ = ["bp"]
