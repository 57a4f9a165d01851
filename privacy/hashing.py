"""Salted hashes of identifiers: what tombstones and the audit log keep instead of values.

``digest("email", "ann@example.com")`` is HMAC-SHA256 over ``"<type>:<normalized value>"`` with the
tombstone salt. The salt is ``settings.PRIVACY_TOMBSTONE_SALT`` when set, else derived from
``SECRET_KEY`` (HMAC of a fixed label). Rotating ``SECRET_KEY`` without pinning the salt first would
orphan every tombstone: set ``PRIVACY_TOMBSTONE_SALT`` to the old derived value (``manage.py shell``:
``privacy.hashing.salt()``) before rotating. See docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

SALT_LABEL = b"attune.privacy.tombstone.v1"


@lru_cache(maxsize=4)
def _salt_for(secret_key: str, configured: str) -> bytes:
    if configured:
        return configured.encode()
    return hmac.new(secret_key.encode(), SALT_LABEL, hashlib.sha256).hexdigest().encode()


def salt() -> str:
    return _salt_for(settings.SECRET_KEY, getattr(settings, "PRIVACY_TOMBSTONE_SALT", "") or "").decode()


def digest(type_key: str, value: str) -> str:
    key = _salt_for(settings.SECRET_KEY, getattr(settings, "PRIVACY_TOMBSTONE_SALT", "") or "")
    return hmac.new(key, f"{type_key}:{value}".encode(), hashlib.sha256).hexdigest()


def digests(idents: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """``{digest: (type_key, value)}`` for every identifier."""
    return {digest(type_key, value): (type_key, value) for type_key, value in idents}
