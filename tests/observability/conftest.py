"""The API's fixtures (synced tools, keys, the failing test tool) for the observability tests."""

from tests.api.conftest import make_key, secret, synced_tools, test_tools

__all__ = ["make_key", "secret", "synced_tools", "test_tools"]
