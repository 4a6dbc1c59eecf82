"""Upstream tools through the API, against real HTTP servers on 127.0.0.1: the example service
(examples/upstream/, which checks every signature) and a misbehaving one (malformed, huge,
redirecting, lying answers)."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from dashboard.api.codes import UPSTREAM_CODES
from dashboard.extensions import db
from dashboard.models import AuditEvent, Tool, ToolLog, UsageSummary
from dashboard.tools.definitions import checked_definition, save_definition
from dashboard.tools.upstream import Failure
from examples.upstream.service import make_server, verify
from tests.api.conftest import error_code

SECRET = "example-secret"

VAT_INPUT = {
    "type": "object",
    "properties": {"amount": {"type": "number"}, "rate": {"type": "number"}},
    "required": ["amount"],
    "additionalProperties": False,
}
VAT_OUTPUT = {
    "type": "object",
    "properties": {
        "net": {"type": "number"},
        "vat": {"type": "number"},
        "gross": {"type": "number"},
    },
    "required": ["net", "vat", "gross"],
}
SHOUT_INPUT = {
    "type": "object",
    "properties": {"text": {"type": "string", "maxLength": 100}},
    "required": ["text"],
}
SHOUT_OUTPUT = {
    "type": "object",
    "properties": {"shout": {"type": "string"}},
    "required": ["shout"],
    "additionalProperties": False,
}


class Misbehaving(BaseHTTPRequestHandler):
    """An upstream that answers badly in every way the gateway must survive."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = self.path
        if path == "/malformed":
            return self.raw(200, b"{not json")
        if path == "/huge":
            return self.raw(200, b'{"shout": "' + b"A" * 3_000_000 + b'"}')
        if path == "/huge-chunked":
            return self.chunked(b'{"shout": "' + b"A" * 3_000_000 + b'"}')
        if path == "/redirect":
            return self.raw(302, b"", {"Location": "http://127.0.0.1:1/elsewhere"})
        if path == "/lying":
            return self.raw(200, json.dumps({"shout": 42}).encode())
        if path == "/array":
            return self.raw(200, b"[1, 2]")
        if path == "/teapot":
            return self.raw(418, b"I am a teapot")
        if path == "/bad-tokens":
            return self.raw(200, b'{"shout": "OK"}', {"X-Toolbox-Tokens": "-3"})
        if path == "/tokens":
            return self.raw(200, b'{"shout": "OK"}', {"X-Toolbox-Tokens": "77"})
        if path == "/drip":
            return self.drip()
        return self.raw(404, b"{}")

    def raw(self, status, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def chunked(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(body), 65536):
            piece = body[start : start + 65536]
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:  # the gateway hung up, as it should
                return
        self.wfile.write(b"0\r\n\r\n")

    def drip(self):
        """Headers at once, then one byte every 100 ms: only the total deadline stops it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            return

    def log_message(self, format, *args):
        pass


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def example():
    """The example upstream service (examples/upstream/service.py) on a free port."""
    server = serve(make_server("127.0.0.1", 0, SECRET))
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def misbehaving():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.daemon_threads = True
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_overrides():
    return {
        "UPSTREAM_SECRETS": {"example": SECRET, "wrong": "not-the-secret"},
        "UPSTREAM_BREAKER_FAILURES": 3,
        "UPSTREAM_BREAKER_COOLDOWN_SECONDS": 0.5,
        "UPSTREAM_MAX_RESPONSE_BYTES": 1_000_000,
    }


@pytest.fixture(autouse=True)
def close_upstream_client(api_app):
    yield
    upstreams = api_app.extensions.pop("upstreams", None)
    if upstreams is not None:
        upstreams.close()


def url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_port}{path}"


def define(name, target, version="v1", **fields):
    """Store an upstream tool version as the admin page would."""
    shout = name != "vat"
    definition = checked_definition(
        {
            "name": name,
            "version": version,
            "url": target,
            "secret": "example",
            "timeout_ms": 2000,
            "input_schema": SHOUT_INPUT if shout else VAT_INPUT,
            "output_schema": SHOUT_OUTPUT if shout else VAT_OUTPUT,
            "example_input": {"text": "hi"} if shout else {"amount": 100},
            **fields,
        }
    )
    save_definition(db.session, definition, managed_by="page")
    db.session.commit()


def log_row(response) -> ToolLog:
    request_id = response.get_json().get("request_id") or response.get_json()["error"]["request_id"]
    return db.session.get(ToolLog, uuid.UUID(request_id))


def test_a_call_is_forwarded_signed_metered_and_logged(api, secret, example, user):
    define("vat", url(example, "/vat"))
    response = api.call("vat", {"amount": 100, "rate": 20}, key=secret)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["output"] == {"net": 100, "vat": 20.0, "gross": 120.0}
    assert body["usage"]["tokens"] == 1  # the upstream's X-Toolbox-Tokens
    path, headers = example.RequestHandlerClass.calls[-1]
    assert path == "/vat"
    # The upstream saw who called, under a signature it checked (it answers 401 otherwise).
    assert headers["X-Toolbox-Account"] == str(user.id)
    assert headers["X-Toolbox-Request"] == body["request_id"]
    assert headers["X-Toolbox-Signature"].startswith("v1=")
    row = log_row(response)
    assert (row.status, row.tool_name, row.tokens_used) == ("success", "vat", 1)
    assert str(row.api_key_id) == headers["X-Toolbox-Key"]
    assert db.session.scalar(sa.select(UsageSummary.total_calls)) == 1


def test_standard_token_count_when_the_upstream_sends_none(api, secret, example):
    define("shout", url(example, "/shout"))
    response = api.call("shout", {"text": "hello"}, key=secret)
    assert response.status_code == 200
    assert response.get_json()["output"] == {"shout": "HELLO!"}
    # ceil((len('{"text":"hello"}') + len('{"shout":"HELLO!"}')) / 4) = ceil(34 / 4)
    assert response.get_json()["usage"]["tokens"] == 9


def test_the_example_upstream_refuses_a_wrong_signature(api, secret, example):
    define("shout", url(example, "/shout"), secret="wrong")
    response = api.call("shout", {"text": "hello"}, key=secret)
    assert response.status_code == 502
    assert error_code(response) == "upstream_error"
    assert "401" in log_row(response).error_message


def test_signature_verification_recipe():
    body = b'{"text":"x"}'
    from dashboard.tools.upstream import Identity, signed_headers

    headers = signed_headers(SECRET, Identity("a", "k", "r"), body)
    assert verify(SECRET, headers, body)
    assert not verify(SECRET, headers, body + b" ")
    assert not verify("other", headers, body)
    assert not verify(SECRET, {**headers, "X-Toolbox-Account": "b"}, body)
    stale = {**headers, "X-Toolbox-Timestamp": str(int(time.time()) - 600)}
    assert not verify(SECRET, stale, body)


def test_the_gateway_answers_every_way_an_upstream_call_fails():
    """The runtime names its failures; each has an API code (an unmapped one would be a 500)."""
    assert set(UPSTREAM_CODES) == set(Failure)


def test_upstream_4xx_with_a_json_error_is_invalid_input(api, secret, example):
    define("vat", url(example, "/vat"), input_schema={"type": "object"})
    response = api.call("vat", {"net": 1}, key=secret)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert "cannot use this input" in error["message"]
    assert error["errors"][0]["message"].startswith("cannot use this input")
    assert log_row(response).error_code == "invalid_input"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/malformed", "not a JSON object"),
        ("/array", "not a JSON object"),
        ("/huge", "refused"),
        ("/huge-chunked", "cut at"),
        ("/redirect", "302 (redirect to http://127.0.0.1:1/elsewhere, not followed)"),
        ("/lying", "output schema at /shout"),
        ("/teapot", "418 without a JSON error"),
        ("/bad-tokens", "X-Toolbox-Tokens"),
    ],
)
def test_a_misbehaving_upstream_is_a_logged_502(api, secret, misbehaving, path, logged):
    define("shout", url(misbehaving, path))
    response = api.call("shout", {"text": "hi"}, key=secret)
    assert response.status_code == 502, response.get_json()
    assert error_code(response) == "upstream_error"
    row = log_row(response)
    assert row.status == "error" and row.error_code == "upstream_error"
    assert logged in row.error_message


def test_tokens_header_is_used(api, secret, misbehaving):
    define("shout", url(misbehaving, "/tokens"))
    response = api.call("shout", {"text": "hi"}, key=secret)
    assert response.get_json()["usage"]["tokens"] == 77


def test_a_failing_upstream_is_a_502(api, secret, example):
    define("shout", url(example, "/shout?fail=1"))
    response = api.call("shout", {"text": "hi"}, key=secret)
    assert response.status_code == 502
    assert "500" in log_row(response).error_message


@pytest.mark.parametrize("path", ["/shout?delay_ms=5000", "/drip"])
def test_past_the_deadline_is_a_504_within_the_deadline(api, secret, example, misbehaving, path):
    server = misbehaving if path == "/drip" else example
    define("shout", url(server, path), timeout_ms=300)
    assert api.checker  # fetch the OpenAPI document now, not inside the timed call
    started = time.perf_counter()
    response = api.call("shout", {"text": "hi"}, key=secret)
    elapsed = time.perf_counter() - started
    assert response.status_code == 504
    assert error_code(response) == "tool_timeout"
    assert elapsed < 2.5  # the 300 ms deadline (plus the gateway's own work), not 5 s or 10 s
    assert log_row(response).execution_time_ms >= 290


def test_an_unreachable_upstream_is_a_502(api, secret):
    define("shout", "http://127.0.0.1:1/shout")
    response = api.call("shout", {"text": "hi"}, key=secret)
    assert response.status_code == 502
    assert "ConnectError" in log_row(response).error_message


def test_breaker_opens_after_repeated_failures_then_probes(api, secret, example, api_app):
    define("shout", url(example, "/shout?fail=1"))
    codes = [error_code(api.call("shout", {"text": "hi"}, key=secret)) for _ in range(4)]
    assert codes == ["upstream_error"] * 3 + ["upstream_unavailable"]
    calls = len(example.RequestHandlerClass.calls)
    refused = api.call("shout", {"text": "hi"}, key=secret)
    assert refused.status_code == 503
    assert len(example.RequestHandlerClass.calls) == calls  # failed fast, nothing sent
    assert log_row(refused).error_message == "circuit breaker open"
    # The upstream recovers; after the cool-down one probe goes through and closes the breaker.
    define("shout", url(example, "/shout"))
    breaker = api_app.extensions["upstreams"].breakers[("shout", "v1")]
    while breaker.allow() is not None:
        time.sleep(0.05)
    breaker.released()  # the check above took the probe; give it back to the next call
    assert api.call("shout", {"text": "hi"}, key=secret).status_code == 200
    assert api.call("shout", {"text": "hi"}, key=secret).status_code == 200


def test_concurrency_cap_refuses_calls_beyond_it(app, secret, example):
    define("shout", url(example, "/shout?delay_ms=400"), max_concurrency=1)
    results = []

    def call():
        with app.test_client() as client:
            answer = client.post(
                "/api/v1/tools/shout",
                json={"text": "hi"},
                headers={"Authorization": f"Bearer {secret}"},
            )
            results.append(answer.get_json().get("error", {}).get("code", "ok"))

    first = threading.Thread(target=call)
    first.start()
    while not any(path == "/shout" for path, _ in example.RequestHandlerClass.calls[-1:]):
        time.sleep(0.01)
    call()
    first.join()
    assert sorted(results) == ["ok", "upstream_unavailable"]


def test_a_switched_off_upstream_version_is_not_served(api, secret, example):
    define("shout", url(example, "/shout"), active=False)
    assert api.call("shout", {"text": "hi"}, key=secret).status_code == 404


def test_upstream_tools_are_in_the_catalog_and_openapi(api, secret, example):
    define("vat", url(example, "/vat"), description="VAT on a net amount.")
    catalog = api.get("/api/v1/tools", key=secret).get_json()
    vat = next(tool for tool in catalog["tools"] if tool["name"] == "vat")
    assert vat["versions"][0]["input_schema"] == VAT_INPUT
    document = api.get("/api/openapi.json").get_json()
    assert "/api/v1/tools/vat/v1" in document["paths"]


def test_changes_are_audited(app, example):
    define("vat", url(example, "/vat"))
    define("vat", url(example, "/vat"), timeout_ms=999)
    define("vat", url(example, "/vat"), timeout_ms=999)  # no change, no event
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.created_at))
    assert list(actions) == ["upstream_tool.added", "upstream_tool.updated"]


def test_a_broken_stored_definition_is_skipped_not_fatal(api, secret, example):
    define("vat", url(example, "/vat"))
    define("shout", url(example, "/shout"))
    db.session.execute(
        sa.update(Tool).where(Tool.name == "shout").values(input_schema={"type": 12})
    )
    db.session.commit()
    assert api.call("vat", {"amount": 1}, key=secret).status_code == 200
    assert api.call("shout", {"text": "hi"}, key=secret).status_code == 404
