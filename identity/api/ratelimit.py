"""Request rate limits per credential (tracking write key, mParticle key, Profile API token).

Fixed one-window counters in a Django cache: ``cache.add`` starts a window's counter, ``cache.incr``
counts, and the counter expires with its window. With ``REDIS_URL`` set the ``ratelimit`` cache is
Redis, where ``INCR`` is atomic and every gunicorn worker and host shares the count; without it the
cache is per process (see docs/deployment.md). Credentials are counted by a hash of what the client
presented, before it is looked up, so a flood of wrong keys is refused without touching the database.

Limits are ``"<requests>/<seconds>"`` strings in ``settings.ATTUNE_RATE_LIMITS`` (empty or ``"0"``
turns a scope off): ``write_key`` (tracking and mParticle), ``profile_token`` (Profile API) and
``failed_auth`` (wrong credentials per client address, whatever key they name).
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.exceptions import APIException, Throttled


class RateLimited(Throttled):
    """429 with ``Retry-After``: each API renders it in its own error shape."""

    def __init__(self, scope: str, wait: int):
        # DRF's Throttled would append its own "Expected available in ..." sentence.
        APIException.__init__(self, detail=f"Too many requests for this {scope}; retry in {wait} s.")
        self.wait = wait
        self.scope = scope


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"600/60"`` → (600 requests, 60 seconds); ``"600/minute"`` works too; empty or 0 → None."""
    if not rate:
        return None
    count, _, period = str(rate).partition("/")
    seconds = {"second": 1, "s": 1, "minute": 60, "min": 60, "m": 60, "hour": 3600, "h": 3600}.get(
        period.strip().lower()
    )
    requests = int(count)
    window = seconds or int(period or 60)
    if requests <= 0 or window <= 0:
        return None
    return requests, window


SCOPE_NAMES = {"write_key": "write key", "profile_token": "access token", "failed_auth": "client"}


def client_address(request) -> str:
    """The peer address (``REMOTE_ADDR``; a reverse proxy must set it to the client's, see docs)."""
    return getattr(request, "_request", request).META.get("REMOTE_ADDR", "")


def refuse_failed(request, exc: Exception) -> Exception:
    """A failed authentication: counted per client address; over the limit it becomes a 429."""
    try:
        check("failed_auth", client_address(request))
    except RateLimited as limited:
        return limited
    return exc


def with_retry_after(response, exc):
    """Add ``Retry-After`` to a response rendered for a ``Throttled`` exception."""
    wait = getattr(exc, "wait", None)
    if wait:
        response["Retry-After"] = str(math.ceil(wait))
    return response


def check(scope: str, credential: str) -> None:
    """Count one request for ``credential`` in ``scope``; raise ``RateLimited`` over the limit."""
    limit = parse_rate(settings.ATTUNE_RATE_LIMITS.get(scope))
    if limit is None or not credential:
        return
    requests, window = limit
    now = time.time()
    window_start = int(now // window) * window
    digest = hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    key = f"rl:{scope}:{digest}:{window_start}"
    cache = caches[settings.ATTUNE_RATE_LIMIT_CACHE]
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens a new window
        cache.add(key, 1, timeout=window + 1)
        count = 1
    if count > requests:
        raise RateLimited(SCOPE_NAMES.get(scope, scope), max(1, math.ceil(window_start + window - now)))
