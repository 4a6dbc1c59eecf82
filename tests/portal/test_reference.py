"""The portal's API reference page (/docs/api): public, the site's CSP, Redoc pointed at the
served OpenAPI document. That Redoc renders every operation is tests/browser/
test_portal_reference.py (Chromium)."""

import re

import pytest


@pytest.fixture
def portal_off(app):
    app.config["PORTAL_ENABLED"] = False


def test_the_reference_is_public_and_reads_the_served_document(client):
    page = client.get("/docs/api")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-document-url="/api/openapi.json"' in html
    assert client.get("/api/openapi.json").status_code == 200
    scripts = re.findall(r"<script([^>]*)>", html)
    assert any("vendor/redoc.standalone.js" in attributes for attributes in scripts)
    assert any("js/api-reference.js" in attributes for attributes in scripts)
    assert all("src=" in attributes for attributes in scripts), "no inline script"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "https:" not in policy  # nothing from a CDN
    assert "/docs/changelog" in html


def test_no_reference_while_the_portal_is_off(client, portal_off):
    assert client.get("/docs/api").status_code == 404
