"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from dashboard import create_app

app = create_app()
