"""An example upstream service for the Toolbox gateway: two tools, standard library only.

    python examples/upstream/service.py --port 8600 --secret s3cret

Tools (POST JSON, answer JSON):
    /vat    {"amount": 100, "rate": 20}  -> {"net", "vat", "gross"}; answers X-Toolbox-Tokens: 1
    /shout  {"text": "hi"}               -> {"shout": "HI!"}

Modes for trying the gateway's guards, as query parameters of the tool's URL:
    ?delay_ms=50   answer after 50 ms (slow upstream)
    ?fail=1        answer 500 (failing upstream)

Every call's signature is checked (verify() below is the whole recipe); a bad or stale one is
answered 401, which the gateway reports as 502 upstream_error.
"""

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_SKEW_SECONDS = 300


def verify(secret: str, headers, body: bytes) -> bool:
    """True when the call comes from the gateway holding `secret`, within 5 minutes."""
    timestamp = headers.get("X-Toolbox-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    message = "\n".join(
        [
            timestamp,
            headers.get("X-Toolbox-Request", ""),
            headers.get("X-Toolbox-Account", ""),
            headers.get("X-Toolbox-Key", ""),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    expected = "v1=" + hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Toolbox-Signature", ""))


def vat(payload: dict) -> tuple[dict, int | None]:
    """VAT on a net amount: (output, tokens)."""
    amount, rate = payload["amount"], payload.get("rate", 20)
    tax = round(amount * rate / 100, 2)
    return {"net": amount, "vat": tax, "gross": round(amount + tax, 2)}, 1


def shout(payload: dict) -> tuple[dict, int | None]:
    """The text in capitals with an exclamation mark (tokens: the gateway's standard count)."""
    return {"shout": payload["text"].upper() + "!"}, None


TOOLS = {"/vat": vat, "/shout": shout}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the gateway reuses its connections
    secret = ""
    calls: list  # (path, headers) of each call, for tests

    def do_POST(self):
        url = urlsplit(self.path)
        modes = parse_qs(url.query)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.calls.append((url.path, dict(self.headers)))
        if not verify(self.secret, self.headers, body):
            return self.answer(401, {"error": {"message": "bad or missing signature"}})
        tool = TOOLS.get(url.path)
        if tool is None:
            return self.answer(404, {"error": {"message": f"no tool at {url.path}"}})
        time.sleep(int(modes.get("delay_ms", ["0"])[0]) / 1000)
        if modes.get("fail"):
            return self.answer(500, {"error": {"message": "failing on purpose"}})
        try:
            output, tokens = tool(json.loads(body))
        except (KeyError, TypeError, ValueError) as error:
            return self.answer(400, {"error": {"message": f"cannot use this input: {error}"}})
        return self.answer(200, output, tokens)

    def answer(self, status: int, body: dict, tokens: int | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if tokens is not None:
            self.send_header("X-Toolbox-Tokens", str(tokens))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # quiet: one line a call is noise in tests
        pass


def make_server(host: str, port: int, secret: str) -> ThreadingHTTPServer:
    """A server for the two tools (port 0: any free port); serve_forever() runs it."""
    handler = type("BoundHandler", (Handler,), {"secret": secret, "calls": []})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--secret", required=True, help="the same as in UPSTREAM_SECRETS")
    arguments = parser.parse_args()
    server = make_server(arguments.host, arguments.port, arguments.secret)
    print(f"Example upstream on http://{arguments.host}:{server.server_port} (/vat, /shout)")
    server.serve_forever()
