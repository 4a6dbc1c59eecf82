"""The curl commands the logs pages show: one that repeats a call, and a first call."""

import json

from dashboard.tools.service import curl_command

FIRST_CALL_INPUT = {"message": "Hello, tools API!"}


def repeat_curl(base_url: str, tool_name: str, tool_version: str, payload) -> str:
    """The curl command that repeats a call, its input quoted for a POSIX shell."""
    body = json.dumps(payload if payload is not None else {}, ensure_ascii=False)
    return curl_command(f"{base_url.rstrip('/')}/api/v1/tools/{tool_name}/{tool_version}", body)


def first_call_curl(base_url: str) -> str:
    """The curl for a first call, shown while the user has no logs."""
    return repeat_curl(base_url, "echo", "v1", FIRST_CALL_INPUT)
