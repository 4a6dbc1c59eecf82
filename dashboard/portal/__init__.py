"""The developer portal: public pages (no log-in) for the operator's API, its tools, the API
reference, pricing, a quickstart and the tools' changelog."""

from dashboard.portal.routes import bp

__all__ = ["bp"]
