"""The portal's public pages: every page of every public tool and version renders without a
session, the 404s help, answers are cached by ETag, the sitemap lists every page, the portal
can be switched off, failing examples are flagged, and nothing of an upstream's private parts
is ever shown."""

import html
import json
import re
from xml.etree import ElementTree

import pytest

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.portal.docs import public_tools, schema_rows
from dashboard.portal.examples import ExampleFailure, example_failures
from dashboard.tools.registry import all_tools, find_tool
from tests.portal.conftest import UPSTREAM_NOTE, UPSTREAM_SECRET, UPSTREAM_URL

FIXED_PAGES = ["/", "/docs/tools/", "/pricing", "/quickstart", "/sitemap.xml", "/robots.txt"]
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def tool_pages() -> list[tuple[str, object]]:
    """(path, tool version) for each public tool page: the newest, then each version."""
    pages = []
    for entry in public_tools():
        pages.append((f"/docs/tools/{entry.name}", entry.latest))
        pages.extend((f"/docs/tools/{entry.name}/{tool.version}", tool) for tool in entry.versions)
    return pages


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_every_page_of_every_tool_and_version_renders_without_a_session(client):
    pages = tool_pages()
    names = {tool.name for _, tool in pages}
    assert {tool.name for tool in all_tools()} <= names and "vat" in names
    for path, tool in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path  # no session for a visitor
        page = text_of(response)
        assert f'<h1 class="h3 mb-1">{tool.title} <span' in page, path
        assert f'aria-current="page">{tool.version}' in page, path
        assert f'<link rel="canonical" href="http://localhost{path}">' in page
        assert f"/api/v1/tools/{tool.name}/{tool.version}" in page
        for row in schema_rows(tool.input_schema):
            assert f">{row.path}<" in page, (path, row.path)
        for sample in ("curl", "python", "client", "javascript"):
            assert f'id="sample-{sample}"' in page
        assert 'data-copy-target="#sample-curl" hidden' in page
    for path in FIXED_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path


def test_the_example_answer_is_the_tool_really_run(client):
    page = text_of(client.get("/docs/tools/echo/v1"))
    answer = re.search(r'data-testid="example-answer"><code>(.*?)</code>', page, re.S)
    assert answer is not None
    shown = json.loads(html.unescape(answer.group(1)))
    echo = find_tool("echo", "v1")
    assert shown["output"] == echo.run(echo.example_input)
    assert (shown["tool"], shown["version"]) == ("echo", "v1") and shown["usage"]["tokens"] > 0


def test_a_failing_example_is_shown_without_an_answer_and_flagged(client, broken_tool):
    response = client.get("/docs/tools/broken_example")
    assert response.status_code == 200
    page = text_of(response)
    assert 'data-testid="no-example-answer"' in page
    assert 'data-testid="example-answer"' not in page
    assert "&#34;n&#34;: 1" in page  # the request is still shown
    flagged = ExampleFailure("broken_example", "v1", "RuntimeError: the example broke")
    assert flagged in example_failures()


def test_fields_show_types_constraints_and_nested_parts():
    schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 50, "description": "Words."},
            "mode": {"enum": ["fast", "exact"], "default": "fast"},
            "options": {
                "type": "object",
                "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 10}},
                "required": ["limit"],
            },
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"word": {"type": ["string", "null"]}}},
            },
        },
        "required": ["text"],
    }
    rows = {row.path: row for row in schema_rows(schema)}
    assert list(rows) == ["text", "mode", "options", "options.limit", "items", "items[].word"]
    assert rows["text"].required and not rows["mode"].required
    assert rows["text"].constraints == ["min length 1", "max length 50"]
    assert rows["mode"].constraints == ["one of fast, exact", 'default "fast"']
    assert rows["options.limit"].required and rows["options.limit"].depth == 1
    assert rows["options.limit"].constraints == ["min 1", "max 10"]
    assert rows["items"].type == "array of object"
    assert rows["items[].word"].type == "string | null"


def test_errors_and_limits_are_the_tools_own(client, app):
    echo = text_of(client.get("/docs/tools/echo"))
    vat = text_of(client.get("/docs/tools/vat"))
    for code in ("invalid_input", "rate_limited", "quota_exceeded", "missing_api_key"):
        assert f">{code}<" in echo and f">{code}<" in vat
    assert ">upstream_error<" in vat and ">upstream_error<" not in echo  # only upstreams: 502
    max_body = f"{app.config['API_MAX_BODY_BYTES']:,} bytes at most"
    assert max_body in echo
    assert f"{app.config['TOOL_DEADLINE_SECONDS']:g} s per call" in echo
    assert "1,000" in echo and "100,000" in echo  # the free and pro plans' calls


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/docs/tools/nope", "No tool is called “nope”"),
        ("/docs/tools/echo/v9", "has no version “v9”"),
        ("/docs/tools/echo/x", "has no version “x”"),
    ],
)
def test_unknown_tools_and_versions_get_a_404_that_helps(client, path, says):
    response = client.get(path)
    assert response.status_code == 404
    page = text_of(response)
    assert says in page
    assert 'href="/docs/tools/sentiment"' in page  # every public tool, linked
    if "echo" in path:
        assert 'href="/docs/tools/echo/v1"' in page  # the versions there are


def test_public_pages_carry_an_etag_and_answer_304_when_it_matches(client):
    for path in [*FIXED_PAGES, "/docs/tools/sentiment/v2"]:
        first = client.get(path)
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "public, max-age=300", path
        assert "Cookie" in first.headers["Vary"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.get_data() == b""
        stale = client.get(path, headers={"If-None-Match": '"something-else"'})
        assert stale.status_code == 200 and stale.headers["ETag"] == etag


def test_the_sitemap_lists_every_public_page_and_robots_points_at_it(client):
    tree = ElementTree.fromstring(client.get("/sitemap.xml").get_data())  # noqa: S314 (ours)
    listed = [loc.text for loc in tree.iter(f"{SITEMAP}loc")]
    indexed = [*FIXED_PAGES[:4], "/docs/api", "/docs/changelog"]
    expected = [f"http://localhost{path}" for path in indexed]
    expected += [f"http://localhost{path}" for path, _ in tool_pages()]
    assert sorted(listed) == sorted(expected)
    for url in listed:
        assert client.get(url.removeprefix("http://localhost")).status_code == 200, url
    robots = text_of(client.get("/robots.txt"))
    assert "Sitemap: http://localhost/sitemap.xml" in robots


def test_opengraph_tags_describe_the_page(client):
    page = text_of(client.get("/docs/tools/sentiment"))
    assert '<meta property="og:title" content="Sentiment' in page
    assert '<meta property="og:url" content="http://localhost/docs/tools/sentiment">' in page
    assert '<meta property="og:site_name" content="Toolbox API">' in page


def test_the_landing_page_lists_the_public_tools_and_the_texts(client, app):
    app.config.update(
        PORTAL_TITLE="Acme Tools", PORTAL_TAGLINE="Tools, fast.", PORTAL_LOGO_URL="/static/l.svg"
    )
    page = text_of(client.get("/"))
    assert '<h1 id="portal-title" class="display-5 fw-semibold mb-3">Acme Tools</h1>' in page
    assert "Tools, fast." in page and 'src="/static/l.svg"' in page
    for entry in public_tools():
        assert f'href="/docs/tools/{entry.name}"' in page
    assert 'href="/signup"' in page and 'href="/login"' in page and 'href="/docs/api"' in page


def test_only_the_public_tools_are_shown(client, app):
    app.config["PORTAL_PUBLIC_TOOLS"] = ["echo", "sentiment"]
    landing = text_of(client.get("/"))
    assert 'href="/docs/tools/echo"' in landing and 'href="/docs/tools/vat"' not in landing
    assert client.get("/docs/tools/vat").status_code == 404
    assert client.get("/docs/tools/sentiment/v1").status_code == 200
    assert "/docs/tools/vat" not in text_of(client.get("/sitemap.xml"))


def test_when_the_portal_is_off_its_pages_are_404_and_home_is_the_log_in(client, app):
    app.config["PORTAL_ENABLED"] = False
    for path in [*FIXED_PAGES[1:], "/docs/tools/echo", "/docs/tools/echo/v1"]:
        assert client.get(path).status_code == 404, path
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/login"


def test_people_logged_in_keep_their_front_door_and_see_their_key(client, logged_in):
    assert client.get("/").headers["Location"] == "/usage/"
    page = client.get("/docs/tools/echo")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-cache"
    assert "export TOOLBOX_API_KEY=tk_live_…" in text_of(page)
    secret = create_key(logged_in, "backend")[1]
    db.session.commit()
    page = text_of(client.get("/docs/tools/echo"))
    assert f"export TOOLBOX_API_KEY={secret[:14]}…" in page
    assert f"{secret[:14]}…" in text_of(client.get("/quickstart"))
    assert secret not in page


def test_no_page_shows_an_upstreams_url_secret_or_notes(client):
    paths = [*FIXED_PAGES, "/docs/tools/vat", "/docs/tools/vat/v1", "/docs/tools/vat/v2"]
    for path in paths:
        page = text_of(client.get(path))
        for private in (UPSTREAM_URL, "10.1.2.3", UPSTREAM_SECRET, UPSTREAM_NOTE, "INTERNAL"):
            assert private not in page, (path, private)
    vat = text_of(client.get("/docs/tools/vat"))
    assert "Adds VAT to an amount." in vat and ">amount<" in vat
    assert 'data-testid="no-example-answer"' in vat  # a page view never calls an upstream
    assert "vat" not in {failure.tool_name for failure in example_failures()}


def test_the_logged_in_tool_page_links_to_its_public_page(client, logged_in):
    page = text_of(client.get("/tools/sentiment/v1"))
    assert 'href="/docs/tools/sentiment/v1"' in page


def test_public_pages_keep_the_content_security_policy(client):
    response = client.get("/docs/tools/echo")
    policy = response.headers["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script_src.strip() == "script-src 'self'"
    assert "<script>" not in text_of(response)


def test_a_visitor_with_a_message_waiting_reads_it_on_the_log_in_page(client):
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Address confirmed.")]
    assert client.get("/").headers["Location"] == "/login"
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Address confirmed.")]
    pricing = client.get("/pricing")
    assert "Address confirmed." in pricing.get_data(as_text=True)
    assert pricing.headers["Cache-Control"] == "private, no-cache"  # never kept for others
