from tests.logs.conftest import call, key  # noqa: F401  (the logs fixtures: a key, record a call)
