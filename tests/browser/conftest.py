"""A live server on a real database and Debian's Chromium driven by Playwright.

pytest-playwright gives the `page` fixture; these fixtures point it at /usr/bin/chromium and at
a server started in a thread for the test module. Without Chromium the tests skip, except in CI
(CI=true), where that is a failure.
"""

import os
import threading

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.sync import sync_tools
from tests.conftest import IN_CI, make_app, postgres_reachable, require, upgrade_to_head
from tests.mail_server import Inbox, free_port

SHOTS = os.environ.get("SCREENSHOT_DIR", "test-results")  # where screenshot() saves its PNGs
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def require_chromium():
    require(
        os.access(CHROMIUM, os.X_OK),
        f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)",
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 860}}


@pytest.fixture(scope="session")
def mail_inbox():
    """A real SMTP server for the session; the live app sends its mail there."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture(scope="session")
def live_app(databases, mail_inbox):
    """The app with CSRF on, as served, on a database of its own (PostgreSQL when it is there)."""
    backend = "postgresql" if (IN_CI or postgres_reachable()) else "sqlite"
    url = databases.create(backend)
    upgrade_to_head(url)
    app = make_app(
        url,
        WTF_CSRF_ENABLED=True,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=mail_inbox[1],
        SIGNUP_RATE_LIMIT_PER_IP="1000/hour",  # every browser test signs up from 127.0.0.1
    )
    with app.app_context():
        sync_tools(db.session, Tool)
        db.session.commit()
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    """The app served on a free loopback port for the test session; yields its base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def base_url(live_server):
    """Lets tests write page.goto("/login")."""
    return live_server


@pytest.fixture
def screenshot(page, request):
    """screenshot("name") saves a PNG under SHOTS (test-results/) to look at."""

    def take(name: str):
        os.makedirs(SHOTS, exist_ok=True)
        path = f"{SHOTS}/{request.node.name}-{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take
