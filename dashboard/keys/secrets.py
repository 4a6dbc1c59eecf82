"""Key secrets: made at random, shown once, stored only as their SHA-256."""

import base64
import hashlib
import hmac
import secrets
import uuid

SECRET_PREFIX = "tk_live_"  # noqa: S105 (a label, not a secret)
# 32 random bytes = 256 bits of entropy, URL-safe base64 (43 characters).
SECRET_BYTES = 32
# Characters of the secret shown in lists: the prefix plus 6 random characters.
DISPLAY_PREFIX_LENGTH = len(SECRET_PREFIX) + 6


def new_secret() -> str:
    """A fresh key secret such as `tk_live_Q2x...`."""
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def derived_secret(server_secret: str, key_id: uuid.UUID) -> str:
    """A secret computed from a key's id and the server's SECRET_KEY, for the keys the server
    itself uses (the playground's): like every secret, only its SHA-256 is stored."""
    digest = hmac.new(
        server_secret.encode(), b"playground-key:" + key_id.bytes, hashlib.sha256
    ).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_secret(secret: str) -> str:
    """The hex SHA-256 of a secret: what `api_keys.key` holds."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    """The start of a secret, enough to tell keys apart, never enough to use one."""
    return secret[:DISPLAY_PREFIX_LENGTH]
