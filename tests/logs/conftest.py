"""Fixtures for the logs tests: a key for the logged-in user and a way to make calls."""

import re
from datetime import timedelta

import pytest

from dashboard.api.metering import record_call
from dashboard.keys.service import create_key
from dashboard.models import utcnow


@pytest.fixture
def key(logged_in):
    """A key of the logged-in user."""
    api_key, _ = create_key(logged_in, "Production")
    return api_key


@pytest.fixture
def call(logged_in, key):
    """call(...) records one call (default: the logged-in user's key, a minute ago); its id."""

    def make(
        *,
        api_key=None,
        at=None,
        tool="echo",
        version="v1",
        status="success",
        error=None,
        code=None,
        payload=None,
        output=None,
        ms=12,
        tokens=7,
    ):
        api_key = api_key or key
        return record_call(
            user_id=api_key.user_id,
            api_key_id=api_key.id,
            tool_name=tool,
            tool_version=version,
            input_payload=payload if payload is not None else {"message": "hi"},
            output_payload=output,
            status=status,
            execution_time_ms=ms,
            tokens_used=tokens,
            error_message=error,
            error_code=code,
            at=at or utcnow() - timedelta(minutes=1),
        )

    return make


def log_ids(html: str) -> list[str]:
    """The ids of the rows of a logs page, in order."""
    return re.findall(r'data-log-id="([0-9a-f-]+)"', html)


def link(html: str, rel: str) -> str | None:
    """The href of the pager link `rel` (next/prev), unescaped."""
    found = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None
