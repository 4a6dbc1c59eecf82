"""`gunicorn tests.reliability.hostile_wsgi:app`: the app with the hostile test tool registered
(tests/api/hostile.py), which only tests may serve."""

from dashboard import create_wsgi_app
from dashboard.tools import registry
from tests.api.hostile import HOSTILE

registry.register(HOSTILE)
app = create_wsgi_app()
