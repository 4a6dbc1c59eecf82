"""markdown: Markdown to safe HTML, rendered with markdown-it-py and sanitised with nh3.

The `markdown` package (Python-Markdown) was the first choice, but on 20,000 characters of
hostile input it takes seconds to a minute (unclosed "[" and "![" are quadratic) and raises
RecursionError on "* * * ..." or "1. 1. 1. ...". markdown-it-py follows CommonMark, caps nesting
and renders all of those in well under a second.

Its output can still be far larger than its input: a link reference definition is copied into
every link that uses it, so 20,000 characters (one 10,000-character URL, then `[a] ` 2,497
times) render to 25 MB of HTML. The version's output limit (MAX_HTML_BYTES) is checked on the
parsed tokens before anything is rendered or sanitised (0.1 s of parsing instead of 0.8 s of
rendering for that input), and again by the tool pool on the real output.
"""

import functools
import html
import re

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import (
    OutputTooLarge,
    ToolVersion,
    object_schema,
    text_schema,
    well_formed,
)

WORD = re.compile(r"\w+(?:['’-]\w+)*")
# The version's output limit, in bytes of JSON (the HTML and its word count).
MAX_HTML_BYTES = 1024 * 1024
# Raw HTML may be dropped by the sanitiser, so it is not counted (the input bounds it anyway).
RAW_HTML = {"html_block", "html_inline"}


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
    markdown_it = renderer()
    env: dict = {}
    tokens = markdown_it.parse(text, env)
    at_least = rendered_at_least(tokens)
    if at_least > MAX_HTML_BYTES:
        raise OutputTooLarge(MAX_HTML_BYTES, at_least, estimated=True)
    # nh3's defaults drop <script>/<style> with their content, every on* attribute and any URL
    # scheme but http, https, mailto and a few others (so no javascript:).
    rendered = markdown_it.renderer.render(tokens, markdown_it.options, env)
    safe_html = nh3.clean(rendered, link_rel="noopener noreferrer nofollow")
    plain_text = html.unescape(nh3.clean(safe_html, tags=set()))
    return {"html": safe_html, "word_count": len(WORD.findall(plain_text))}


def rendered_at_least(tokens) -> int:
    """A lower bound of the rendered HTML's length: every token's text and attribute values
    appear in it (escaped, so never shorter), raw HTML left out."""
    total, stack = 0, list(tokens)
    while stack:
        token = stack.pop()
        if token.type not in RAW_HTML:
            total += len(token.content)
            total += sum(len(str(value)) for value in (token.attrs or {}).values())
        stack.extend(token.children or ())
    return total


TOOL_VERSIONS = [
    ToolVersion(
        name="markdown",
        version="v1",
        released_on=RELEASED,
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
        max_output_bytes=MAX_HTML_BYTES,
    )
]
