"""Authentication of the tracking (write key), mParticle (key:secret) and Profile API (token) routes."""

from __future__ import annotations

import base64
import binascii
import time

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from identity.api import ratelimit
from identity.api.body import read_body
from identity.models import AccessToken
from people.caching import ProcessCache
from people.models import Source


def credentials(request) -> tuple[str, str, str] | None:
    """(scheme, username-or-token, password) from the Authorization header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return ("basic", user, password)
    if scheme == "bearer" and value:
        return ("bearer", value, "")
    return None


SOURCE_CACHE_SECONDS = 10
_source_cache = ProcessCache("sources", seconds=SOURCE_CACHE_SECONDS)


def source_for_write_key(key: str) -> Source | None:
    """The enabled source of a write key, with its channel: read on every tracking request, so kept
    per process (``people.caching.ProcessCache``, keyed by the key's hash). Every save or delete of a
    source or channel (``sources_changed``, connected in ``identity.apps``) renews it: a disabled or
    rotated key stops at once in the process that changed it and, after commit, in every process
    sharing the Django cache (else within ``SOURCE_CACHE_SECONDS``). The source is shared: read it."""
    digest = Source.hash_write_key(key)
    return _source_cache.get(digest, lambda: _enabled_source(digest))


def _enabled_source(digest: str) -> Source | None:
    return Source.objects.select_related("channel").filter(write_key_hash=digest, enabled=True).first()


def sources_changed(**_signal_kwargs) -> None:
    """Sources or channels changed (a signal receiver): every process reads them again."""
    _source_cache.changed()


def write_key_source(request) -> Source | None:
    """Segment/RudderStack: the source of the write key a request presents (Basic username, else
    ``writeKey`` in the body, else ``?writeKey=``), None when it presents none.

    Counts the request against the key's rate limit first (``RateLimited``); an unknown or disabled
    key is ``AuthenticationFailed`` (or ``RateLimited`` once the client has failed too often). Shared
    by the plain tracking views (``identity.api.tracking``) and ``WriteKeyAuthentication``.
    """
    found = credentials(request)
    key = found[1] if found else ""
    if not key:
        body, _ = read_body(request)
        if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
            key = body["writeKey"]
    if not key:
        key = getattr(request, "_request", request).GET.get("writeKey", "")
    if not key:
        return None
    ratelimit.check("write_key", key)
    source = source_for_write_key(key)
    if source is None:
        raise ratelimit.refuse_failed(
            request, exceptions.AuthenticationFailed("Unknown or disabled write key.")
        )
    return source


def key_secret_source(request) -> Source | None:
    """mParticle: the source of a Basic ``key:secret`` (source key, write key), None without one;
    a wrong pair is ``PermissionDenied`` (or ``RateLimited``)."""
    found = credentials(request)
    if not found or found[0] != "basic" or not found[1]:
        return None
    _, key, secret = found
    ratelimit.check("write_key", secret)
    source = source_for_write_key(secret)
    if source is None or source.key != key:
        raise ratelimit.refuse_failed(request, exceptions.PermissionDenied("Invalid API key or secret."))
    return source


class CredentialAuthentication(BaseAuthentication):
    """A DRF authentication class over ``find(request)``, which answers what the request's
    credentials name (``request.auth``), None when it presents none, or raises when they are wrong;
    a request without credentials is asked for Basic credentials of ``realm``."""

    realm: str

    @staticmethod
    def find(request):
        raise NotImplementedError

    def authenticate(self, request):
        found = self.find(request)
        return None if found is None else (AnonymousUser(), found)

    def authenticate_header(self, request) -> str:
        return f'Basic realm="{self.realm}"'


class WriteKeyAuthentication(CredentialAuthentication):
    """``write_key_source`` as a DRF authentication class (the OpenAPI declarations name it). Sets
    ``request.auth`` to the source."""

    find = staticmethod(write_key_source)
    realm = "tracking"


class KeySecretAuthentication(CredentialAuthentication):
    """``key_secret_source`` as a DRF authentication class. Missing → 401; wrong → 403."""

    find = staticmethod(key_secret_source)
    realm = "events"


TOKEN_CACHE_SECONDS = 10
_token_cache: dict[str, tuple] = {}


def _token_by_hash(token_hash: str) -> AccessToken | None:
    """Enabled token by hash, kept per process for ``TOKEN_CACHE_SECONDS`` (the Profile API is read
    at hundreds of requests a second); a disabled or deleted token stops working within that time,
    at once in the process that changed it (``forget_cached_tokens``)."""
    now = time.monotonic()
    entry = _token_cache.get(token_hash)
    if entry is None or entry[1] < now:
        token = AccessToken.objects.filter(token_hash=token_hash, enabled=True).first()
        if len(_token_cache) > 1000:
            _token_cache.clear()
        entry = (token, now + TOKEN_CACHE_SECONDS)
        _token_cache[token_hash] = entry
    return entry[0]


def forget_cached_tokens() -> None:
    _token_cache.clear()


def access_token_for(request) -> AccessToken | None:
    """The Profile API token a request presents (Basic username or Bearer), None when it presents none.

    Counts the request against the token's rate limit first (``RateLimited``); an unknown or disabled
    token is ``AuthenticationFailed`` (or ``RateLimited`` once the client has failed too often). Shared
    by the plain Profile API views and ``AccessTokenAuthentication``.
    """
    found = credentials(request)
    if not found or not found[1]:
        return None
    ratelimit.check("profile_token", found[1])
    token = _token_by_hash(AccessToken.hash_token(found[1]))
    if token is None:
        raise ratelimit.refuse_failed(request, exceptions.AuthenticationFailed("Invalid access token."))
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class AccessTokenAuthentication(CredentialAuthentication):
    """Profile API: Basic with the access token as username, or ``Authorization: Bearer <token>``.

    The Profile API itself is served by plain Django views (``identity/api/profiles.py``) that call
    ``access_token_for``; this class names the security scheme in the OpenAPI schema."""

    find = staticmethod(access_token_for)
    realm = "profiles"


class HasSource(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Source)


class HasAccessToken(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, AccessToken)
