"""The JSON API that customers' programs call with an API key."""

from dashboard.api.routes import bp

__all__ = ["bp"]
