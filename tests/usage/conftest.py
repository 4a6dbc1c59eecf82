"""Usage fixtures: calls made through the real metering path."""

import itertools
from datetime import datetime

import pytest

from dashboard.api.metering import record_call, record_rejection
from dashboard.keys.service import create_key

_n = itertools.count()


@pytest.fixture
def call():
    """call(user, key, tool, at, status="success", ms=10, tokens=5): one metered call."""

    def make(user, key, tool, at: datetime, status="success", ms=10, tokens=5):
        return record_call(
            user_id=user.id,
            api_key_id=key.id,
            tool_name=tool,
            tool_version="v1",
            input_payload={"n": next(_n)},
            output_payload={"ok": status == "success"},
            status=status,
            execution_time_ms=ms,
            tokens_used=tokens,
            error_message=None if status == "success" else "boom",
            error_code=None if status == "success" else "tool_error",
            at=at,
        )

    return make


@pytest.fixture
def reject():
    """reject(user, key, tool, at, reason="rate_limit"|"quota"): one refused call."""

    def make(user, key, tool, at: datetime, reason="rate_limit"):
        record_rejection(user_id=user.id, api_key_id=key.id, tool_name=tool, reason=reason, at=at)

    return make


@pytest.fixture
def key(user):
    """An API key of `user`."""
    return create_key(user, "Production")[0]
