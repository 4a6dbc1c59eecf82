"""The production page (docs/production.md), run as written from a fresh clone of this repository.

The settings block runs verbatim, then this test sets its own values for what must be its own
(a PostgreSQL database, this run's Redis, key prefix and queue name, a free port and PUBLIC_URL
on it, an SMTP server of its own, three workers); every other setting stays as the page says.
The commands block runs verbatim: assets, migrations, tools, `flask doctor` (which must say
"All good."), gunicorn. Then, as a customer would: a request for another host is refused, the
sign-up page renders with its CSS and scripts, an account is made (its confirmation mail
arrives over SMTP) and a key, a tool is called with the key, its call shows in /metrics (summed
over workers), SIGTERM stops the server cleanly, and every line it logged is JSON.
"""

import html
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis

from tests.conftest import REDIS_KEY_PREFIX, REDIS_SERVER, require, require_redis
from tests.mail_server import smtp_server  # noqa: F401 (fixture)
from tests.reliability.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MARKER = "<!-- production-settings"
COMMANDS_MARKER = "<!-- production-commands"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SECRET = re.compile(r'id="new-key-secret"[^>]*value="(tk_live_[^"]+)"')


def production_block(marker: str) -> str:
    """The sh block after `marker` on the production page (docs/production.md)."""
    text = (ROOT / "docs" / "production.md").read_text()
    return text[text.index(marker) :].split("```sh\n", 1)[1].split("```", 1)[0]


def readme_commands() -> list[str]:
    """The command lines of the production page's commands block, comments stripped."""
    lines = [
        line.split("  #", 1)[0].strip() for line in production_block(COMMANDS_MARKER).splitlines()
    ]
    return [line for line in lines if line]


def production_settings(own: dict, isolation: dict) -> dict:
    """The environment after running the settings block verbatim, then exporting `own` (values
    that must be this run's: each names a setting of the block) and `isolation` (names the block
    leaves out that keep this run apart from others sharing Redis)."""
    block = production_block(SETTINGS_MARKER)
    exported = set(re.findall(r"\b([A-Z][A-Z_]+)=", block))
    assert set(own) <= exported, set(own) - exported
    assert not set(isolation) & exported
    script = block + "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in {**own, **isolation}.items()
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + "env -0"],
        env=clean_environment({}),
        capture_output=True,
        check=True,
    )
    env = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if item)
    assert exported <= set(env), exported - set(env)
    return env


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


def test_the_readme_production_section_from_a_fresh_clone(databases, tmp_path, smtp_server):  # noqa: F811
    require(shutil.which("git") is not None and shutil.which("npm") is not None, "git/npm")
    require_redis()
    inbox, smtp_port = smtp_server
    database_url = databases.create("postgresql").replace("postgresql+psycopg://", "postgresql://")
    clone = tmp_path / "toolbox"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    queue_name = f"{REDIS_KEY_PREFIX}-production-path"
    env = production_settings(
        own={
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": REDIS_SERVER,
            "QUEUE_URL": REDIS_SERVER,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_port),
            "MAIL_USE_TLS": "false",  # the test's SMTP server speaks plain SMTP, without log-in
            "MAIL_USERNAME": "",
            "BIND": f"127.0.0.1:{port}",
            "WORKERS": "3",
        },
        isolation={"RATELIMIT_KEY_PREFIX": REDIS_KEY_PREFIX, "QUEUE_NAME": queue_name},
    )
    metrics_token = env["METRICS_TOKEN"]
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
        check_the_confirmation_mail_was_sent(inbox, port)
        call_a_tool_and_see_it_in_the_metrics(browser, secret, metrics_token)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            exit_code = server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        _, errors = server.communicate()
        forget_the_queue(queue_name)
    assert exit_code == 0
    log_lines = [line for line in errors.decode().splitlines() if line.strip()]
    not_json = [line for line in log_lines if not line.startswith("{")]
    assert not not_json, not_json[:30]  # no mail, traceback or print() among the JSON lines
    json_lines = [json.loads(line) for line in log_lines]
    assert any(line["logger"] == "dashboard.requests" for line in json_lines)
    assert secret not in errors.decode()


def forget_the_queue(name: str) -> None:
    """Remove the Redis keys of this run's queue (Huey names them after the cleaned name)."""
    connection = redis.Redis.from_url(REDIS_SERVER)
    for key in connection.scan_iter(f"huey.*.{re.sub('[^a-z0-9]', '', name)}*"):
        connection.delete(key)


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


def check_the_confirmation_mail_was_sent(inbox, port: int) -> None:
    """Sent over SMTP (MAIL_SERVER), its link on PUBLIC_URL, and not in the log."""
    message = inbox.last_to("operator@example.com")
    assert f"http://127.0.0.1:{port}/verify/" in message.get_content()


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
