"""The tools catalog pages: every served tool, one tool's page, and the playground that runs it
through the API with the customer's key. The tools themselves are dashboard/tools/."""

from dashboard.catalog.routes import bp

__all__ = ["bp"]
