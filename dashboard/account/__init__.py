"""The account page: plan, sessions, security history, password, email, two-factor, deleting."""

from dashboard.account import two_factor_pages  # noqa: F401 (registers its pages on bp)
from dashboard.account.routes import bp

__all__ = ["bp"]
