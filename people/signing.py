"""Timestamped HMAC-SHA256 signatures with the organization's signing key.

Used for webhooks (actions, audience changes), privacy status callbacks and deletion receipts:

    X-Attune-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<raw body>")>

During a key rotation every active key signs, so the header carries one ``v1=`` per key and a
receiver that knows either key accepts it. A receiver rejects a timestamp older than its tolerance
(replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Attune-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signing_keys() -> list[str]:
    """The organization's active signing keys, newest first (two during a rotation)."""
    from people.selectors import organization

    org = organization()
    keys = [org.webhook_signing_key, getattr(org, "webhook_signing_key_previous", "")]
    return [key for key in keys if key]


def _mac(key: str, timestamp: int, body: bytes) -> str:
    return hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, *, keys: list[str] | None = None, timestamp: int | None = None) -> str:
    """The header value for ``body``; ``keys`` default to the organization's active keys."""
    keys = signing_keys() if keys is None else keys
    if not keys:
        raise ValueError("the organization has no signing key (set it in Organization settings)")
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}", *(f"v1={_mac(key, t, body)}" for key in keys)])


def verify(
    header: str,
    body: bytes,
    *,
    key: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when one ``v1=`` of ``header`` is ``body`` signed with ``key`` within ``tolerance`` seconds."""
    try:
        parts = [item.split("=", 1) for item in header.split(",")]
        t = int(next(value for name, value in parts if name.strip() == "t"))
    except (ValueError, StopIteration):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = _mac(key, t, body)
    return any(name.strip() == "v1" and hmac.compare_digest(value.strip(), expected) for name, value in parts)
