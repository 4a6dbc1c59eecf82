"""Webhooks: endpoints that receive signed events (Standard Webhooks), and their deliveries."""

from dashboard.webhooks.routes import bp

__all__ = ["bp"]
