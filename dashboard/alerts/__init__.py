"""Alerts: what an account wants to hear about (quota, error rate, expiring keys, new IPs)."""

from dashboard.alerts.routes import bp

__all__ = ["bp"]
