"""Logs."""

from dashboard.logs.routes import bp

__all__ = ["bp"]
