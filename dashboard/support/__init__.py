"""Support."""

from dashboard.support.routes import bp

__all__ = ["bp"]
