"""Secrets that are shown once and stored only as a hash: source write keys, Profile API tokens and
management API tokens. One helper, so every kind is hashed and generated the same way."""

from __future__ import annotations

import hashlib
import secrets


def hash_credential(raw: str) -> str:
    """SHA-256 hex of a high-entropy random secret (no salt or stretching needed: nothing to guess)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_credential(prefix: str = "", nbytes: int = 32) -> str:
    """A fresh URL-safe random secret, ``prefix`` first so a leaked one says what it is."""
    return prefix + secrets.token_urlsafe(nbytes)
