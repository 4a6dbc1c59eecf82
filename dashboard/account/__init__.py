"""The account page: plan, password, deleting the account, support access history."""

from dashboard.account.routes import bp

__all__ = ["bp"]
