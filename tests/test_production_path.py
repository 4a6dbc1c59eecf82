"""The production page (docs/production.md), run as written from a fresh clone of this repository.

The settings block gets this test's own values (a PostgreSQL database of its own, this run's
Redis key prefix, a free port and PUBLIC_URL on it, three workers); the commands block runs
verbatim: assets, migrations, tools, `flask doctor`, gunicorn. Then, as a customer would: a
request for another host is refused, the sign-up page renders with its CSS and scripts, an
account and a key are made through the forms, a tool is called with the key, its call shows in
/metrics (summed over workers), and SIGTERM stops the server cleanly.
"""

import html
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import REDIS_KEY_PREFIX, REDIS_SERVER, require, require_redis
from tests.reliability.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
COMMANDS_MARKER = "<!-- production-commands"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SECRET = re.compile(r'id="new-key-secret"[^>]*value="(tk_live_[^"]+)"')


def readme_commands() -> list[str]:
    """The command lines of the production page's commands block (docs/production.md),
    comments stripped."""
    text = (ROOT / "docs" / "production.md").read_text()
    block = text[text.index(COMMANDS_MARKER) :].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def clean_environment(settings: dict) -> dict:
    """The machine's environment without this test run's Python and app settings."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "FLASK_APP", "PROMETHEUS_MULTIPROC_DIR", "CI")
    env = {name: value for name, value in os.environ.items() if name not in dropped}
    env["PATH"] = ":".join(
        part for part in env["PATH"].split(":") if not part.endswith("/.venv/bin")
    )
    return {**env, **settings}


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self):
        return json.loads(self.body)


class Browser:
    """One HTTP/1.1 request per connection, redirects not followed, and cookies by hand:
    production cookies are Secure, and this server speaks plain HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers=None) -> Answer:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        for header in answer.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        return answer

    def post_json(self, path: str, payload: dict, headers: dict) -> Answer:
        body = json.dumps(payload).encode()
        return self.request("POST", path, body, {**headers, "Content-Type": "application/json"})

    def form(self, path: str, fields: dict) -> Answer:
        token = CSRF.search(self.request("GET", path).text).group(1)
        body = urlencode({**fields, "csrf_token": token}).encode()
        return self.request(
            "POST",
            path,
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}{path}",
            },
        )


def test_the_readme_production_section_from_a_fresh_clone(databases, tmp_path):
    require(shutil.which("git") is not None and shutil.which("npm") is not None, "git/npm")
    require_redis()
    database_url = databases.create("postgresql").replace("postgresql+psycopg://", "postgresql://")
    clone = tmp_path / "toolbox"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    metrics_token = secrets.token_hex(8)
    env = clean_environment(
        {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": REDIS_SERVER,
            "RATELIMIT_KEY_PREFIX": REDIS_KEY_PREFIX,
            "METRICS_TOKEN": metrics_token,
            "BIND": f"127.0.0.1:{port}",
            "WORKERS": "3",
        }
    )
    *setup, serve = readme_commands()
    assert serve.startswith(".venv/bin/gunicorn"), serve
    for line in setup:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "All good." in done.stdout  # the last setup line is `flask doctor`

    server = subprocess.Popen(
        ["bash", "-c", f"exec {serve}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        browser = Browser(port)
        wait_until_ready(browser, server)
        check_another_host_is_refused(browser)
        check_the_page_has_its_css_and_scripts(browser)
        secret = make_an_account_and_a_key(browser)
        call_a_tool_and_see_it_in_the_metrics(browser, secret, metrics_token)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            exit_code = server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        _, errors = server.communicate()
    assert exit_code == 0
    log_lines = errors.decode().splitlines()
    json_lines = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert any(line["logger"] == "dashboard.requests" for line in json_lines)
    assert secret not in errors.decode()


def wait_until_ready(browser: Browser, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode()[-3000:]
        try:
            if browser.request("GET", "/health/ready").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)  # polling a server that is starting: there is no event to wait on
    raise AssertionError("gunicorn was not ready in time")


def check_another_host_is_refused(browser: Browser) -> None:
    """Only PUBLIC_URL's host is served: a poisoned Host never reaches a page or a link."""
    assert browser.request("GET", "/login", headers={"Host": "evil.example"}).status == 400
    api = browser.request("GET", "/api/v1/tools", headers={"Host": "evil.example"})
    assert api.status == 400 and api.json()["error"]["code"] == "bad_request"


def check_the_page_has_its_css_and_scripts(browser: Browser) -> None:
    page = browser.request("GET", "/signup")
    assert page.status == 200
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert any("bootstrap" in href for href in styles), styles
    assert any("htmx" in src for src in scripts), scripts
    for url in [*styles, *scripts]:
        asset = browser.request("GET", html.unescape(url))
        assert asset.status == 200, url
        assert len(asset.body) > (10_000 if "/vendor/" in url else 100), url
        kind = "text/css" if url in styles else "javascript"
        assert kind in asset.headers["Content-Type"], (url, asset.headers["Content-Type"])


def make_an_account_and_a_key(browser: Browser) -> str:
    account = {"email": "operator@example.com", "password": "correct horse battery"}
    signed_up = browser.form("/signup", account)
    assert signed_up.status == 303, signed_up.text[:500]
    logged_in = browser.form("/login", account)  # signing up does not log you in
    assert logged_in.status == 303, logged_in.text[:500]
    created = browser.form(
        "/keys/", {"name": "production check", "rate_limit_per_minute": "60", "expiry": "never"}
    )
    assert created.status == 303, created.text[:500]
    page = browser.request("GET", created.headers["Location"])  # the secret, shown once
    assert page.status == 200
    return SECRET.search(page.text).group(1)


def call_a_tool_and_see_it_in_the_metrics(browser: Browser, secret: str, token: str) -> None:
    for n in range(6):  # several calls, so that more than one worker is likely to answer
        answer = browser.post_json(
            "/api/v1/tools/echo", {"message": f"hello {n}"}, {"Authorization": f"Bearer {secret}"}
        )
        assert answer.status == 200, answer.text
        assert answer.json()["output"]["echo"] == f"hello {n}"
        assert answer.headers["Request-Id"] == answer.json()["request_id"]
        assert answer.headers["X-RateLimit-Limit"]  # counted in Redis
    metrics = browser.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert metrics.status == 200
    assert 'toolbox_tool_calls_total{outcome="success",tool="echo",version="v1"} 6.0' in (
        metrics.text
    )
