"""Fixtures for the keys tests: tools to restrict keys to, and keys made directly."""

import pytest

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool


@pytest.fixture
def tools(app):
    """Active tools `echo` (two versions) and `sentiment`, and an inactive `retired`."""
    rows = [
        Tool(name="echo", version="v1", endpoint_path="/echo"),
        Tool(name="echo", version="v2", endpoint_path="/echo"),
        Tool(name="sentiment", version="v1", endpoint_path="/sentiment"),
        Tool(name="retired", version="v1", endpoint_path="/retired", is_active=False),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return ["echo", "sentiment"]


@pytest.fixture
def make_key(app):
    """make_key(user, name="...", **settings) -> (ApiKey, secret)."""

    def make(user, name: str = "test key", **settings):
        return create_key(user, name, **settings)

    return make
