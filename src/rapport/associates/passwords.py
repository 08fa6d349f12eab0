"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must meet.

The hash string carries its own parameters, so raising the cost later only needs
:func:`needs_rehash` at the next successful sign-in; no stored hash is ever invalidated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rapport.errors import InvalidRecord

MIN_LENGTH = 10
#: Argon2 hashes any length, but a megabyte "password" is a denial of service, not a secret.
MAX_LENGTH = 1024

#: RFC 9106's low-memory profile (argon2id, t=3, 64 MiB, p=4): argon2-cffi's default.
_hasher = PasswordHasher()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A new hash with a random salt. A fixed ``salt`` is for reproducible demo data only."""
    return _hasher.hash(password, salt=salt)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash counts as a mismatch, never a crash."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (re-hash it after sign-in)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


@contextmanager
def hashing_cost(*, time_cost: int, memory_cost: int, parallelism: int = 1) -> Iterator[PasswordHasher]:
    """Hash with other Argon2id parameters for a while: cheaper in tests, or to try a new cost.

    Hashes made before still verify (each carries its parameters) and :func:`needs_rehash` is
    True for them, which is how a cost change rolls out at the next sign-in.
    """
    global _hasher
    previous = _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _decoy_hash.cache_clear()
    try:
        yield _hasher
    finally:
        _hasher = previous
        _decoy_hash.cache_clear()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return _hasher.hash("rapport decoy password, never assigned")


def burn_verification_time(password: str) -> None:
    """Spend what a real verification costs, so an unknown email answers as slowly as a known one."""
    verify_password(_decoy_hash(), password)


def check_password_strength(password: str, *, field: str = "password") -> None:
    """Refuse passwords too short to resist guessing (length is what matters most) or absurdly long."""
    if len(password) < MIN_LENGTH:
        raise InvalidRecord.one(field, f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidRecord.one(field, f"a password has at most {MAX_LENGTH} characters")
    if not password.strip():
        raise InvalidRecord.one(field, "a password cannot be only spaces")
