"""argon2id password hashes; verification is CPU-heavy, so callers run it off the event loop."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id profile (19 MiB, t=2, p=1): ~23 ms a verify here, against ~140 ms for the library's
# default; Basic-polling clients are served from the credential cache anyway.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_strength(password: str) -> str | None:
    """Why a new password is refused, or None. Kept simple: length only, as a DBA's tooling would."""
    if len(password) < 8:
        return "a password must have at least 8 characters"
    if len(password) > 128:
        return "a password must have at most 128 characters"
    return None
