"""The factory, configuration, security headers and error pages."""

import gzip

import pytest
from flask import Flask

from dashboard import create_app, ensure_secret_key
from dashboard.config import Config, ProductionConfig, normalise_database_url
from dashboard.templating import fragment_request
from tests.conftest import PASSWORD


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app(ProductionConfig())


def test_production_starts_with_a_secret_key_and_secure_cookies(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("PUBLIC_URL", "https://dash.example.com")
    app = create_app(ProductionConfig())
    assert app.config["SECRET_KEY"] == "x" * 64
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_development_generates_a_secret_key_once_and_keeps_it(tmp_path):
    first = Flask("a", instance_path=str(tmp_path / "instance"))
    ensure_secret_key(first)
    second = Flask("b", instance_path=str(tmp_path / "instance"))
    ensure_secret_key(second)
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def test_database_url_defaults_and_driver(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = Config()
    assert config.SQLALCHEMY_DATABASE_URI == "sqlite:///dashboard.sqlite"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_pages_send_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_session_cookie_is_httponly_and_samesite_lax(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_have_no_inline_script(client, logged_in):
    for url in ("/login", "/account/"):
        page = client.get(url).get_data(as_text=True)
        for chunk in page.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, tag


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_unknown_api_path_answers_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_plotlys_basic_bundle_travels_gzipped_to_browsers_that_accept_it(client):
    plain = client.get("/static/vendor/plotly-basic.min.js")
    assert plain.status_code == 200, "run `make assets`"
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=3600" in plain.headers["Cache-Control"]
    size = int(plain.headers["Content-Length"])
    plain.close()

    zipped = client.get("/static/vendor/plotly-basic.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    body = zipped.get_data()
    assert len(body) < size / 2
    assert b"plotly" in gzip.decompress(body)[:2000].lower()
    zipped.close()

    again = client.get(
        "/static/vendor/plotly-basic.min.js", headers={"If-None-Match": plain.headers["ETag"]}
    )
    assert again.status_code == 304


def test_the_old_plotly_address_is_gone(client):
    assert client.get("/assets/plotly.min.js").status_code == 404


def test_static_vendor_assets_are_built(client):
    for name in ("htmx.min.js", "bootstrap.min.css"):
        response = client.get(f"/static/vendor/{name}")
        assert response.status_code == 200, f"run `make assets` ({name} missing)"
        response.close()


@pytest.mark.parametrize(
    ("headers", "wanted"),
    [
        ({}, False),
        ({"HX-Request": "true"}, True),
        ({"HX-Request": "false"}, False),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False),
    ],
)
def test_a_fragment_is_for_htmx_but_not_for_a_history_restore(app, headers, wanted):
    with app.test_request_context("/", headers=headers):
        assert fragment_request() is wanted
