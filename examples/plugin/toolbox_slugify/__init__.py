"""slugify: turn a title into a URL slug. An example of a Toolbox tool plugin.

The package declares its tools in pyproject.toml under the `toolbox.tools` entry point group;
the gateway registers them at start, beside its built-in tools, and serves them with the same
keys, limits, validation, metering and logs.
"""

import re
import unicodedata

from dashboard.tools.tool import ToolVersion, object_schema, text_schema


def slugify(payload: dict) -> dict:
    """The text as lowercase ASCII words joined by the separator."""
    separator = payload.get("separator", "-")
    ascii_text = unicodedata.normalize("NFKD", payload["text"]).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return {"slug": separator.join(words), "words": len(words)}


TOOL_VERSIONS = [
    ToolVersion(
        name="slugify",
        version="v1",
        title="Slugify",
        description="Turns a title into a URL slug: lowercase ASCII words joined by a separator.",
        input_schema=object_schema(
            {
                "text": text_schema("The title to turn into a slug.", max_length=2_000),
                "separator": {
                    "type": "string",
                    "enum": ["-", "_", "."],
                    "maxLength": 1,
                    "default": "-",
                    "description": "What joins the words.",
                },
            },
            required=["text"],
        ),
        output_schema=object_schema(
            {"slug": {"type": "string"}, "words": {"type": "integer", "minimum": 0}},
            required=["slug", "words"],
        ),
        example_input={"text": "Crème brûlée: a recipe"},
        run=slugify,
    )
]
