"""Password hashing with Argon2id, a memory-hard hash."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

# Argon2id defaults of argon2-cffi (RFC 9106 low-memory profile: 64 MiB, 3 passes).
_hasher = PasswordHasher()
# Tests hash thousands of passwords; a cheap profile keeps them fast and is never used in serving.
_fast_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _current_hasher() -> PasswordHasher:
    return _fast_hasher if current_app.config.get("PASSWORD_HASH_FAST") else _hasher


def hash_password(password: str) -> str:
    """An Argon2id hash of `password`."""
    return _current_hasher().hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """True when `password` is the one hashed; False for no hash or a malformed hash."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this hash when the email is unknown keeps login timing the same.
DUMMY_HASH = _hasher.hash("not-a-real-password")
