"""Key secrets: made at random, shown once, stored only as their SHA-256.

A secret is its prefix (`tk_live_`, `tk_test_`, `tk_root_`), 43 random URL-safe characters and,
since issue 28, a 6-character checksum: the CRC32 of everything before it, in base62, as
GitHub's tokens end. A secret scanner tells a real secret from noise offline
(has_valid_checksum) and only then asks us. Secrets made before have no checksum and keep
working: every lookup is by the SHA-256 of the whole secret.
"""

import base64
import hashlib
import hmac
import secrets
import string
import uuid
import zlib

SECRET_PREFIX = "tk_live_"  # noqa: S105 (a label, not a secret)
TEST_SECRET_PREFIX = "tk_test_"  # noqa: S105 (a test-mode key's label)
# Every kind of secret that carries a checksum (root keys: dashboard/keys/root.py).
CHECKSUMMED_PREFIXES = ("tk_live_", "tk_test_", "tk_root_")
# 32 random bytes = 256 bits of entropy, URL-safe base64 (43 characters).
SECRET_BYTES = 32
RANDOM_LENGTH = 43
# Characters of the secret shown in lists: the prefix plus 6 random characters (live and test
# prefixes have the same length, so one length serves both).
DISPLAY_PREFIX_LENGTH = len(SECRET_PREFIX) + 6
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits


def new_secret(test: bool = False) -> str:
    """A fresh key secret such as `tk_live_Q2x...`, or `tk_test_Q2x...` for a test-mode key
    (ending with its checksum)."""
    prefix = TEST_SECRET_PREFIX if test else SECRET_PREFIX
    return checksummed(prefix, secrets.token_urlsafe(SECRET_BYTES))


def checksummed(prefix: str, random_part: str) -> str:
    """The secret `prefix + random_part` with its checksum appended."""
    return prefix + random_part + checksum(prefix + random_part)


def checksum(text: str) -> str:
    """The CRC32 of `text` in base62, 6 characters, zero-padded."""
    value = zlib.crc32(text.encode())
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def has_valid_checksum(secret: str) -> bool:
    """Whether `secret` has the shape of a new secret and its checksum holds: a string that
    passes is almost surely one of ours (one random string in 4 billion passes by chance)."""
    prefix = secret[:8]
    body = secret[8:]
    if prefix not in CHECKSUMMED_PREFIXES or len(body) != RANDOM_LENGTH + CHECKSUM_LENGTH:
        return False
    return hmac.compare_digest(body[RANDOM_LENGTH:], checksum(prefix + body[:RANDOM_LENGTH]))


def derived_secret(server_secret: str, key_id: uuid.UUID) -> str:
    """A test-mode secret computed from a key's id and the server's SECRET_KEY, for the keys the
    server itself uses (the playground's): `tk_test_`, 43 characters and a checksum, like any
    new test secret (so a scanner recognises one found in public); only its SHA-256 is stored."""
    digest = hmac.new(
        server_secret.encode(), b"playground-key:" + key_id.bytes, hashlib.sha256
    ).digest()
    return checksummed(TEST_SECRET_PREFIX, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def hash_secret(secret: str) -> str:
    """The hex SHA-256 of a secret: what `api_keys.key` holds."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    """The start of a secret, enough to tell keys apart, never enough to use one."""
    return secret[:DISPLAY_PREFIX_LENGTH]
