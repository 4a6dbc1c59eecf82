"""The WSGI entry point (`gunicorn wsgi:app`): the dashboard, with the JSON API under /api."""

from dashboard import create_wsgi_app

app = create_wsgi_app()
