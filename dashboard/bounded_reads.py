"""Reading an HTTP answer within bounds: at most `cap` bytes and by an overall deadline.

httpx's timeouts bound each read, not the whole body: a server trickling a byte a second would
hold a worker for ever, and one sending gigabytes would fill its memory. Webhook deliveries and
upstream tools both read their answers through here.
"""

import time

import httpx


class TooLarge(Exception):
    """The body is over the cap: `size` bytes so far, or as the Content-Length declared."""

    def __init__(self, cap: int, size: int, declared: bool) -> None:
        super().__init__(f"{size} bytes, over the {cap}-byte cap")
        self.cap = cap
        self.size = size
        self.declared = declared


class TooSlow(Exception):
    """The body kept trickling past the overall deadline."""


def read_capped(response: httpx.Response, cap: int, deadline: float, *, decoded: bool) -> bytes:
    """The body, or TooLarge past `cap` bytes, or TooSlow past `deadline` (a perf_counter time).

    `decoded` reads the body as the server's Content-Encoding decodes it (the cap then bounds
    what the caller parses); otherwise the bytes as sent (a webhook keeps only an excerpt)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge(cap, int(declared), declared=True)
    content = bytearray()
    for chunk in response.iter_bytes() if decoded else response.iter_raw():
        content += chunk
        if len(content) > cap:
            raise TooLarge(cap, len(content), declared=False)
        if time.perf_counter() > deadline:
            raise TooSlow
    return bytes(content)


def elapsed_ms(started: float) -> int:
    """Whole milliseconds since `started` (a perf_counter time)."""
    return round((time.perf_counter() - started) * 1000)
