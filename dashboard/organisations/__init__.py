"""Organisations: accounts that several people share, each in a role (roles.py says what each
may do); the membership rules (service.py) and emailed invitations (invitations.py)."""

from dashboard.organisations.current import init_app

__all__ = ["init_app"]
