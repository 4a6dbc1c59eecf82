"""Schemathesis hooks for the management run of tests/reliability/test_contract.py (loaded by
the CLI from SCHEMATHESIS_HOOKS). They make a generated *valid* request what a real client
sends, where the document cannot say it; every check stays on.

- An `Idempotency-Key` names one logical request: a client never sends the same key with
  another body. The generator repeats short values ("0", "a") across different bodies, and the
  API rightly answers 422 `idempotency_key_reused` (tests/api/test_management.py holds that),
  which the positive-data check would count as a valid request refused. So a valid key (1 to 255
  characters) of a positive case is made unique; invalid ones and negative cases are sent as
  generated.
- A key's body may name only tools that are served, only IPs or CIDR ranges, and an expiry in
  the future: JSON Schema cannot say any of that (the tools change while the document is
  served, "the future" moves), and the API rightly answers 422 `invalid_parameters` naming the
  field (tests/api/test_management.py). A positive case keeps only the served tools
  (CONTRACT_TOOLS, set by the test), only the entries that are networks, and an expiry only if
  it is in the future.
- A webhook endpoint's URL must be public: no user name or password, no private, loopback or
  link-local address, a port and host a URL parser takes (the webhooks page's rules, which the
  API keeps). The document gives only its shape, and the API rightly answers 422
  `invalid_webhook_url` with the page's reason (tests/api/test_management_hooks.py). A positive
  case's URL is made a public one.
- A `cursor` is opaque: only a `next_cursor` the API gave out is one, which no schema can say,
  so a made-up one is rightly 422 (tests/api/test_management.py). A positive case's made-up
  cursor is dropped (the first page is asked for instead).
"""

import ipaddress
import os
import uuid
from datetime import UTC, datetime

import schemathesis
from schemathesis import GenerationMode


def positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def before_call(context, case, kwargs):
    if not positive(case):
        return
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and 1 <= len(key) <= 255:
        headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"
    if case.query and "cursor" in case.query:
        del case.query["cursor"]
    if isinstance(case.body, dict):
        as_a_client_writes(case.body)


def as_a_client_writes(body: dict) -> None:
    """A key's body with only served tools, only networks and no expiry in the past; a
    webhook endpoint's with a public URL."""
    if isinstance(body.get("url"), str):
        body["url"] = f"https://hooks.example.com/toolbox/{uuid.uuid4().hex}"
    served = set(os.environ.get("CONTRACT_TOOLS", "").split(","))
    if isinstance(body.get("allowed_tools"), list):
        body["allowed_tools"] = [name for name in body["allowed_tools"] if name in served]
    if isinstance(body.get("allowed_ips"), list):
        body["allowed_ips"] = [entry for entry in body["allowed_ips"] if is_network(entry)]
    if isinstance(body.get("expires_at"), str) and not in_the_future(body["expires_at"]):
        body["expires_at"] = None


def is_network(entry) -> bool:
    try:
        ipaddress.ip_network(str(entry), strict=False)
    except ValueError:
        return False
    return " " not in str(entry) and "," not in str(entry)


def in_the_future(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment > datetime.now(UTC)
    except OverflowError:
        return False
