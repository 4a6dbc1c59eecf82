"""echo: return the message unchanged; the cheapest tool, for benchmarks and smoke tests."""

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import ToolVersion, object_schema


def echo_message(payload: dict) -> dict:
    """The message back, with its length in characters."""
    message = payload["message"]
    return {"echo": message, "length": len(message)}


TOOL_VERSIONS = [
    ToolVersion(
        name="echo",
        version="v1",
        released_on=RELEASED,
        title="Echo",
        description="Returns the message you send and its length. Useful to test keys and latency.",
        input_schema=object_schema(
            {
                "message": {
                    "type": "string",
                    "maxLength": 20_000,
                    "description": "Any text, up to 20,000 characters.",
                }
            },
            required=["message"],
        ),
        output_schema=object_schema(
            {
                "echo": {"type": "string"},
                "length": {"type": "integer", "minimum": 0, "description": "In characters."},
            },
            required=["echo", "length"],
        ),
        example_input={"message": "Hello, tools API!"},
        run=echo_message,
    )
]
