"""Webhooks: endpoints that receive signed events (Standard Webhooks), and their deliveries.

service.py, delivery.py and tasks.py are shared by the page (routes.py, forms.py) and the
management API; this file imports neither, so the API app can use them without the page.
"""
