"""Password hashing (argon2) and the password rule."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

_default_hasher = PasswordHasher()

MIN_LENGTH = 8
MAX_LENGTH = 64
# Stored instead of a hash for people imported in bulk: no password matches it (an argon2 hash starts with
# "$argon2"), so they set one themselves through 忘记密码 with their registered phone. Hashing thousands of
# temporary passwords would take minutes and hand the admin a list of secrets to distribute.
NO_PASSWORD_YET = "!no-password-yet"


def hasher_for(time_cost: int, memory_kib: int) -> PasswordHasher:
    """Return the argon2id hasher of the configured cost (``LMS_PASSWORD_TIME_COST`` / ``_MEMORY_KIB``)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def _hasher() -> PasswordHasher:
    # A hash records its own parameters, so verifying needs no configuration; hashing and rehashing use the app's.
    if has_app_context():
        return current_app.extensions.get("lms.password_hasher", _default_hasher)
    return _default_hasher


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """Hash a password with argon2id at the app's configured cost (or the given hasher's)."""
    return (hasher or _hasher()).hash(password)


def has_usable_password(password_hash: str) -> bool:
    """Return whether the account has a password of its own (not the marker of a bulk import)."""
    return not password_hash.startswith("!")


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against its hash without leaking why it failed."""
    if not has_usable_password(password_hash):
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Return whether the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """Return why a new password is not acceptable (Chinese), or None."""
    if not MIN_LENGTH <= len(password or "") <= MAX_LENGTH:
        return f"密码长度应为 {MIN_LENGTH}–{MAX_LENGTH} 个字符。"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "密码须同时包含字母和数字。"
    return None
