"""One attempt to deliver a signed message to an endpoint, ending in an Outcome, never raising.

Safety: only http(s); the host is resolved once and, unless WEBHOOK_ALLOW_PRIVATE, every address
must be public (no private, loopback, link-local, multicast or reserved ranges, nor an IPv6 form
that embeds such an IPv4 address: IPv4-mapped, 6to4, NAT64; Teredo, local NAT64 and the
IPv4-compatible form are refused whole); the request then goes to that very address (Host
header and TLS SNI carry the name, so a second DNS answer cannot swap in an internal address).
Redirects are never followed; the response is read up to WEBHOOK_MAX_RESPONSE_BYTES within
WEBHOOK_TIMEOUT_SECONDS in all.
"""

import ipaddress
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import httpx
from flask import current_app
from standardwebhooks.webhooks import Webhook

from dashboard.bounded_reads import TooLarge, TooSlow, elapsed_ms, read_capped

EXCERPT_CHARS = 500
HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)+")
USER_AGENT = "Toolbox-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt ended in. `permanent` failures are not worth retrying."""

    ok: bool
    status: int | None = None
    excerpt: str | None = None
    latency_ms: int | None = None
    error: str | None = None
    permanent: bool = False


class Undeliverable(Exception):
    """The destination is refused or unreachable before any request is made."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook endpoint (syntax only, no DNS), or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "This is not a valid URL."
    if parsed.scheme not in ("http", "https"):
        return "The URL must start with https:// (or http://)."
    if not parsed.host:
        return "The URL has no host."
    if not HOST_NAME.fullmatch(parsed.host) and not is_ip(parsed.host):
        return f"{parsed.host!r} is not a valid host name."
    if parsed.userinfo:
        return "Put no user name or password in the URL; verify the signature instead."
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        try:
            address = ipaddress.ip_address(parsed.host)
        except ValueError:
            return None
        if refused_address(address):
            return (
                f"{address} is a private, loopback or link-local address (or an IPv6 form of one)."
            )
    return None


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# IPv6 ranges refused outright: the site's own NAT64 translator (RFC 8215), Teredo tunnels and
# the deprecated IPv4-compatible form, none of which a public endpoint needs.
REFUSED_IPV6 = tuple(
    ipaddress.ip_network(network) for network in ("64:ff9b:1::/48", "2001::/32", "::/96")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits


def embedded_ipv4(address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or NAT64 address leads to, or None."""
    if address.version != 6:
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def refused_address(address) -> bool:
    """True for addresses a public webhook must not reach, directly or through an IPv6 form
    that carries an IPv4 address (a DNS64 resolver answers public hosts with NAT64 addresses,
    so those are judged by the address inside)."""
    if address.version == 6 and any(address in network for network in REFUSED_IPV6):
        return True
    inner = embedded_ipv4(address)
    if inner is not None:
        return refused_address(inner)
    return not address.is_global or address.is_multicast


def resolve(url: httpx.URL) -> str:
    """The address to connect to for `url`, after the destination rules."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Undeliverable(f"DNS lookup of {url.host} failed ({error}).", False) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        for address in addresses:
            if refused_address(address):
                raise Undeliverable(
                    f"{url.host} resolves to {address}, a private, loopback or link-local "
                    "address; these are refused (WEBHOOK_ALLOW_PRIVATE).",
                    True,
                )
    return str(addresses[0])


def signature_header(secrets: list[str], message_id: str, at: datetime, body: bytes) -> str:
    """`v1,<base64>` for each secret, space-separated (Standard Webhooks)."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


def attempt(url: str, message_id: str, payload: dict, secrets: list[str], at: datetime) -> Outcome:
    """POST the signed message once (`at`: naive UTC); the outcome, whatever goes wrong."""
    config = current_app.config
    problem = url_problem(url)
    if problem:
        return Outcome(ok=False, error=problem, permanent=True)
    parsed = httpx.URL(url)
    try:
        address = resolve(parsed)
    except Undeliverable as refusal:
        return Outcome(ok=False, error=str(refusal), permanent=refusal.permanent)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Host": parsed.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.replace(tzinfo=UTC).timestamp())),
        "webhook-signature": signature_header(secrets, message_id, at, body),
    }
    timeout = config["WEBHOOK_TIMEOUT_SECONDS"]
    started = time.perf_counter()
    try:
        with httpx.Client(
            follow_redirects=False, timeout=timeout, trust_env=False, verify=tls_context()
        ) as client:
            request = client.build_request(
                "POST",
                parsed.copy_with(host=address),
                headers=headers,
                content=body,
                extensions={"sni_hostname": parsed.host} if parsed.scheme == "https" else {},
            )
            response = client.send(request, stream=True)
            try:
                content = read_capped(
                    response,
                    config["WEBHOOK_MAX_RESPONSE_BYTES"],
                    started + timeout,
                    decoded=False,  # only an excerpt is kept: never inflate a compressed body
                )
            finally:
                response.close()
    except httpx.TimeoutException:
        return failed(started, f"No answer within {timeout:g} s (timed out).")
    except TooSlow:
        return failed(started, f"The response took longer than {timeout:g} s (timed out).")
    except TooLarge as error:
        return failed(started, too_large(error), status=response.status_code)
    except httpx.ConnectError as error:
        text = str(error)
        if "SSL" in text or "certificate" in text.lower() or "TLS" in text:
            return failed(started, f"TLS error: {text}")
        return failed(started, f"Could not connect: {text or 'connection failed'}")
    except httpx.HTTPError as error:
        return failed(started, f"The connection failed: {type(error).__name__}: {error}")
    latency = elapsed_ms(started)
    excerpt = content[:EXCERPT_CHARS].decode("utf-8", "replace")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(ok=True, status=status, excerpt=excerpt, latency_ms=latency)
    if 300 <= status < 400:
        target = response.headers.get("Location", "?")
        reason = f"Redirect (HTTP {status} to {target[:200]}) not followed; use the final URL."
    else:
        reason = f"The endpoint answered HTTP {status}."
    return Outcome(ok=False, status=status, excerpt=excerpt, latency_ms=latency, error=reason)


@cache
def tls_context() -> ssl.SSLContext:
    """The system's CA certificates, loaded once (loading them takes a noticeable moment)."""
    return ssl.create_default_context()


def too_large(error: TooLarge) -> str:
    if error.declared:
        return f"The response is {error.size:,} bytes, over the {error.cap:,}-byte cap."
    return f"The response is over the {error.cap:,}-byte cap."


def failed(started: float, reason: str, status: int | None = None) -> Outcome:
    return Outcome(ok=False, status=status, latency_ms=elapsed_ms(started), error=reason)
