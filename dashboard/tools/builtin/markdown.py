"""markdown: Markdown to safe HTML, rendered with markdown-it-py and sanitised with nh3.

The `markdown` package (Python-Markdown) was the first choice, but on 20,000 characters of
hostile input it takes seconds to a minute (unclosed "[" and "![" are quadratic) and raises
RecursionError on "* * * ..." or "1. 1. 1. ...". markdown-it-py follows CommonMark, caps nesting
and renders all of those in well under a second.
"""

import functools
import html
import re

from dashboard.tools.tool import ToolVersion, object_schema, text_schema, well_formed

WORD = re.compile(r"\w+(?:['’-]\w+)*")


@functools.cache
def renderer():
    """A CommonMark renderer with tables and strikethrough; raw HTML passes on to nh3."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def warm_up() -> None:
    """Build the renderer and load nh3."""
    renderer()
    import nh3  # noqa: F401


def render_markdown(payload: dict) -> dict:
    """Sanitised HTML for the Markdown text, and the number of words a reader sees."""
    import nh3

    text = well_formed(payload["markdown"])  # nh3 (Rust) refuses lone surrogates
    # nh3's defaults drop <script>/<style> with their content, every on* attribute and any URL
    # scheme but http, https, mailto and a few others (so no javascript:).
    safe_html = nh3.clean(renderer().render(text), link_rel="noopener noreferrer nofollow")
    plain_text = html.unescape(nh3.clean(safe_html, tags=set()))
    return {"html": safe_html, "word_count": len(WORD.findall(plain_text))}


TOOL_VERSIONS = [
    ToolVersion(
        name="markdown",
        version="v1",
        title="Markdown to HTML",
        description=(
            "Renders CommonMark Markdown (plus tables and strikethrough) to HTML that is safe to "
            "embed: no scripts, event handlers or javascript: links."
        ),
        input_schema=object_schema(
            {"markdown": text_schema("Markdown source, 1 to 20,000 characters.")},
            required=["markdown"],
        ),
        output_schema=object_schema(
            {
                "html": {"type": "string"},
                "word_count": {"type": "integer", "minimum": 0},
            },
            required=["html", "word_count"],
        ),
        example_input={
            "markdown": (
                "# Release notes\n\nVersion **2.1** adds [dark mode](https://example.com/dark) "
                "and fixes:\n\n- slow search\n- broken *export* button\n"
            )
        },
        run=render_markdown,
    )
]
