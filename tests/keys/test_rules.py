"""The key rules the gateway enforces and the keys page shows (pure functions, no database)."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from dashboard.keys.rules import (
    ip_allowed,
    key_refusal,
    key_status,
    parse_ip_list,
    shown_status,
    tool_allowed,
)

NOW = datetime(2026, 3, 10, 12, 0, 0)


def key(**fields):
    """Anything with ApiKey's attribute names, as the rules accept."""
    base = {
        "is_active": True,
        "revoked_at": None,
        "expires_at": None,
        "grace_ends_at": None,
        "replaced_by_id": None,
    }
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, "active"),
        ({"expires_at": NOW + timedelta(seconds=1)}, "active"),
        ({"expires_at": NOW}, "expired"),  # expires_at is the first moment it no longer works
        ({"expires_at": NOW - timedelta(days=3)}, "expired"),
        ({"revoked_at": NOW - timedelta(minutes=1), "is_active": False}, "revoked"),
        ({"revoked_at": NOW}, "revoked"),
        ({"is_active": False}, "revoked"),  # deactivated by another service (seed column)
        ({"grace_ends_at": NOW + timedelta(hours=1)}, "rolled"),
        ({"grace_ends_at": NOW + timedelta(milliseconds=1)}, "rolled"),
        ({"grace_ends_at": NOW}, "revoked"),  # grace boundary: over at that instant
        ({"grace_ends_at": NOW - timedelta(seconds=1)}, "revoked"),
        # Revocation wins over a running grace, and a grace over an expiry.
        ({"grace_ends_at": NOW + timedelta(hours=1), "revoked_at": NOW}, "revoked"),
        ({"grace_ends_at": NOW + timedelta(hours=1), "is_active": False}, "revoked"),
        ({"grace_ends_at": NOW + timedelta(hours=1), "expires_at": NOW}, "rolled"),
        ({"revoked_at": NOW, "expires_at": NOW - timedelta(days=1)}, "revoked"),
    ],
)
def test_key_status(fields, status):
    assert key_status(key(**fields), NOW) == status


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({}, "active"),
        ({"grace_ends_at": NOW + timedelta(hours=1)}, "rolled"),
        # Every way a key stops working reads the same on the pages.
        ({"expires_at": NOW}, "expired"),
        ({"revoked_at": NOW, "is_active": False}, "expired"),
        ({"grace_ends_at": NOW}, "expired"),
        ({"is_active": False}, "expired"),
    ],
)
def test_pages_show_one_word_for_a_key_that_stopped_working(fields, word):
    assert shown_status(key(**fields), NOW) == word


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({}, None),
        ({"grace_ends_at": NOW + timedelta(hours=1)}, None),  # rolled keys still work
        ({"expires_at": NOW}, "expired_api_key"),
        ({"revoked_at": NOW}, "revoked_api_key"),
        ({"grace_ends_at": NOW}, "revoked_api_key"),
    ],
)
def test_key_refusal(fields, refusal):
    assert key_refusal(key(**fields), NOW) == refusal


@pytest.mark.parametrize(
    ("allowed", "tool", "allowed_or_not"),
    [
        (None, "sentiment", True),
        ([], "sentiment", True),
        (["sentiment"], "sentiment", True),
        (["sentiment", "echo"], "echo", True),
        (["sentiment"], "echo", False),
        (["sentiment"], "Sentiment", False),  # names are exact
        (["sentiment"], "", False),
    ],
)
def test_tool_allowed(allowed, tool, allowed_or_not):
    assert tool_allowed(allowed, tool) is allowed_or_not


@pytest.mark.parametrize(
    ("allowed", "client", "allowed_or_not"),
    [
        (None, "203.0.113.7", True),
        ([], "203.0.113.7", True),
        (None, None, True),
        (["203.0.113.7/32"], "203.0.113.7", True),
        (["203.0.113.7/32"], "203.0.113.8", False),
        (["10.0.0.0/8"], "10.255.1.2", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.0/8", "192.168.1.0/24"], "192.168.1.200", True),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "2001:db9::1", False),
        (["2001:db8::1/128"], "2001:DB8::1", True),  # case-insensitive hex
        (["::1/128"], "::1", True),
        # An IPv4 client seen through an IPv6 socket (IPv4-mapped) matches IPv4 entries.
        (["203.0.113.0/24"], "::ffff:203.0.113.9", True),
        (["203.0.113.0/24"], "::ffff:198.51.100.1", False),
        # IPv4 addresses never match IPv6 ranges and the other way round.
        (["::/0"], "203.0.113.7", False),
        (["0.0.0.0/0"], "2001:db8::1", False),
        (["0.0.0.0/0"], "203.0.113.7", True),
        # Garbage from a proxy header never gets in when a list exists.
        (["0.0.0.0/0"], "not an ip", False),
        (["0.0.0.0/0"], "", False),
        (["0.0.0.0/0"], None, False),
        (["0.0.0.0/0"], "203.0.113.7, 10.0.0.1", False),
        (["0.0.0.0/0"], "999.1.1.1", False),
        (["10.0.0.0/8"], "10.0.0.1/8", False),
    ],
)
def test_ip_allowed(allowed, client, allowed_or_not):
    assert ip_allowed(allowed, client) is allowed_or_not


@pytest.mark.parametrize(
    ("text", "entries", "invalid"),
    [
        ("", [], []),
        ("   \n ,, ", [], []),
        ("203.0.113.7", ["203.0.113.7/32"], []),
        ("10.1.2.3/8", ["10.0.0.0/8"], []),  # host bits are dropped, not refused
        ("2001:DB8::1", ["2001:db8::1/128"], []),
        (
            "2001:db8::/32, 10.0.0.0/8\n192.168.0.1",
            ["10.0.0.0/8", "192.168.0.1/32", "2001:db8::/32"],
            [],
        ),
        ("10.0.0.1 10.0.0.1,10.0.0.1/32", ["10.0.0.1/32"], []),  # duplicates once
        (
            "10.0.0.1, nonsense, 300.1.1.1, 10.0.0.0/33",
            ["10.0.0.1/32"],
            ["nonsense", "300.1.1.1", "10.0.0.0/33"],
        ),
        ("::ffff:1.2.3.4", ["::ffff:102:304/128"], []),
    ],
)
def test_parse_ip_list(text, entries, invalid):
    assert parse_ip_list(text) == (entries, invalid)


def test_parsed_entries_are_accepted_by_ip_allowed():
    entries, invalid = parse_ip_list("198.51.100.0/24\n2001:db8::/48")
    assert not invalid
    assert ip_allowed(entries, "198.51.100.42")
    assert ip_allowed(entries, "2001:db8:0:1::1")
    assert not ip_allowed(entries, "198.51.101.1")
