"""Personal link tokens: random, shown once, stored only as a SHA-256 digest."""

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """A fresh URL-safe token (256 random bits) and the digest to store for it."""
    plain = secrets.token_urlsafe(32)
    return plain, digest(plain)


def digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
