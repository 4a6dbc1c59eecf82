"""The secret format: new secrets end with a checksum a scanner checks offline; secrets made
before it (no checksum) keep working, since every lookup is by the SHA-256 of the whole secret."""

import re
import secrets
import zlib

import pytest

from dashboard.extensions import db
from dashboard.keys.root import create_root_key
from dashboard.keys.secrets import BASE62, checksum, has_valid_checksum, hash_secret, new_secret
from dashboard.keys.service import create_key
from dashboard.models import Tool
from dashboard.tools.sync import sync_tools

NEW_FORMAT = re.compile(r"tk_(live|test|root)_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}")


def old_format(prefix: str = "tk_live_") -> str:
    """A secret as made before issue 28: the prefix and 43 random characters."""
    return prefix + secrets.token_urlsafe(32)


def test_new_secrets_end_with_a_checksum_of_what_comes_before():
    made = {new_secret() for _ in range(200)}
    assert len(made) == 200
    for secret in made:
        assert NEW_FORMAT.fullmatch(secret)
        assert secret[-6:] == checksum(secret[:-6])
        assert has_valid_checksum(secret)


def test_the_checksum_is_crc32_in_base62():
    # zlib.crc32(b"") == 0 and crc32(b"a") == 0xE8B7BE43 == 3904355907.
    assert checksum("") == "000000"
    assert checksum("a") == "4GEHKN"
    value = 0
    for digit in checksum("a"):
        value = value * 62 + BASE62.index(digit)
    assert value == 0xE8B7BE43 == zlib.crc32(b"a")


@pytest.mark.parametrize(
    "noise",
    [
        "",
        "tk_live_",
        "tk_live_" + "a" * 49,  # the shape, not the checksum
        "tk_other_" + "a" * 49,
        "ghp_" + "a" * 36,
    ],
)
def test_noise_has_no_valid_checksum(noise):
    assert not has_valid_checksum(noise)


def test_one_changed_character_or_another_prefix_breaks_the_checksum():
    secret = new_secret()
    for at in (8, 30, len(secret) - 1):
        changed = secret[:at] + ("B" if secret[at] != "B" else "C") + secret[at + 1 :]
        assert not has_valid_checksum(changed)
    assert not has_valid_checksum("tk_root_" + secret.removeprefix("tk_live_"))
    assert not has_valid_checksum(secret + "x")


def test_old_secrets_have_no_checksum():
    assert not has_valid_checksum(old_format())


def test_root_keys_carry_the_checksum_too(user):
    _, secret = create_root_key(user, user, "CI", ["keys:read"])
    assert secret.startswith("tk_root_") and has_valid_checksum(secret)


def call(client, secret):
    return client.post(
        "/api/v1/tools/echo",
        json={"message": "hi"},
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_an_old_format_api_key_still_calls_tools(client, user):
    sync_tools(db.session, Tool)
    key, new = create_key(user, "made last year")
    old = old_format()
    key.key = hash_secret(old)  # as stored before checksums
    db.session.commit()
    answer = call(client, old)
    assert answer.status_code == 200, answer.get_json()
    assert call(client, new).status_code == 401  # the row now holds the old secret only


def test_an_old_format_root_key_still_manages(client, user):
    root_key, _ = create_root_key(user, user, "CI", ["keys:read"])
    old = old_format("tk_root_")
    root_key.key_hash = hash_secret(old)
    db.session.commit()
    answer = client.get("/api/v1/keys", headers={"Authorization": f"Bearer {old}"})
    assert answer.status_code == 200, answer.get_json()
