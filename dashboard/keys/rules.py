"""When a key may be used: the rules the gateway enforces and the keys page shows.

They take any object with ApiKey's attribute names (a model instance or a database row), so
the gateway can apply them to a cached row without loading ORM objects.
"""

import ipaddress
from datetime import datetime
from functools import lru_cache


def key_status(key, now: datetime) -> str:
    """`active`, `rolled` (replaced, in its grace period), `expired` or `revoked`."""
    if key.revoked_at is not None or not key.is_active:
        return "revoked"
    if key.grace_ends_at is not None:
        return "rolled" if key.grace_ends_at > now else "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def shown_status(key, now: datetime) -> str:
    """The one word pages show: `active`, `rolled` (still works) or `expired` (no longer works).

    The API keeps telling `expired_api_key` from `revoked_api_key` apart; to a person, a key that
    stopped working, by its date, by Expire or after a roll, is simply expired.
    """
    status = key_status(key, now)
    return "expired" if status == "revoked" else status


def stopped_at(key, now: datetime) -> datetime | None:
    """When the key stopped working: expired by hand, at the end of a roll's grace period or
    on its expiry date; None while it works."""
    if key.revoked_at is not None:
        return key.revoked_at
    for end in (key.grace_ends_at, key.expires_at):
        if end is not None and end <= now:
            return end
    return None


def key_refusal(key, now: datetime) -> str | None:
    """The API error code that refuses this key now, or None when it may be used."""
    status = key_status(key, now)
    if status == "expired":
        return "expired_api_key"
    if status == "revoked":
        return "revoked_api_key"
    return None


def tool_allowed(allowed_tools: list[str] | None, tool_name: str) -> bool:
    """No list means every tool."""
    return not allowed_tools or tool_name in allowed_tools


@lru_cache(maxsize=4096)
def _networks(allowed_ips: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed_ips)


def ip_allowed(allowed_ips: list[str] | None, client_ip: str | None) -> bool:
    """No list means anywhere; otherwise the client's address must fall in one entry."""
    if not allowed_ips:
        return True
    try:
        address = ipaddress.ip_address(client_ip or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(allowed_ips)))


def parse_ip_list(text: str) -> tuple[list[str], list[str]]:
    """Split a comma/space/newline separated list into (normalised entries, invalid entries)."""
    entries, invalid = [], []
    for raw in text.replace(",", " ").split():
        try:
            entries.append(str(ipaddress.ip_network(raw, strict=False)))
        except ValueError:
            invalid.append(raw)
    return sorted(set(entries)), invalid
