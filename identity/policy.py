"""Identifier policy: normalise values by type and recognise blocked values.

``Policy.load()`` reads every identifier type once (one query). ``Policy.cached()`` keeps that per
process (``people.caching.ProcessCache``); every save or delete of an identifier type renews it
(``identifier_types_changed``, also a signal receiver connected in ``identity.apps``), and
``Policy.for_batch()`` gives the pipeline a copy of it to add the custom types a batch brings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from identity.defaults import DEFAULT_TYPES, default_type_fields
from identity.models import IdentifierType
from people.attributes import AttributeValueError, normalize_phone
from people.caching import ProcessCache

# Client spellings of standard identifier types (Profile API paths, mParticle identities).
TYPE_ALIASES = {
    "customer_id": "user_id",
    "customerid": "user_id",
    "userid": "user_id",
    "phone_number": "phone",
    "mobile_number": "phone",
    "anonymousid": "anonymous_id",
}


class InvalidIdentifier(ValueError):
    pass


@dataclass(frozen=True)
class TypePolicy:
    id: int
    key: str
    priority: int
    limit: int
    anonymous: bool
    normalizer: str
    blocked_values: frozenset[str]
    blocked_patterns: tuple[re.Pattern, ...]

    def normalize(self, raw: str) -> str:
        text = str(raw).strip()
        if not text:
            raise InvalidIdentifier("empty")
        if self.normalizer == IdentifierType.Normalizer.EMAIL:
            text = text.lower()
            if "@" not in text:
                raise InvalidIdentifier(f"{raw!r} is not an email address")
        elif self.normalizer == IdentifierType.Normalizer.LOWER:
            text = text.lower()
        elif self.normalizer == IdentifierType.Normalizer.PHONE:
            try:
                text = normalize_phone(self.key, text)
            except AttributeValueError as exc:
                raise InvalidIdentifier(f"{raw!r} is not a phone number with country code") from exc
        if len(text) > 255:
            raise InvalidIdentifier("longer than 255 characters")
        return text

    def is_blocked(self, value: str) -> bool:
        if value in self.blocked_values or value.lower() in self.blocked_values:
            return True
        return any(pattern.fullmatch(value) for pattern in self.blocked_patterns)


def compile_policy(row: IdentifierType) -> TypePolicy:
    patterns = []
    for pattern in row.blocked_patterns or []:
        try:
            patterns.append(re.compile(pattern))
        except re.error:
            continue
    return TypePolicy(
        id=row.pk,
        key=row.key,
        priority=row.priority,
        limit=row.limit,
        anonymous=row.anonymous,
        normalizer=row.normalizer,
        blocked_values=frozenset(str(v).lower() for v in row.blocked_values or []),
        blocked_patterns=tuple(patterns),
    )


READ_CACHE_SECONDS = 10
_policy_cache = ProcessCache("identifier-types", seconds=READ_CACHE_SECONDS)


def forget_cached_policy() -> None:
    """Forget this process's copy (tests). Writers call ``identifier_types_changed``."""
    _policy_cache.clear()


def identifier_types_changed(**_signal_kwargs) -> None:
    """Identifier types were created or changed: after commit, every process reloads its policy
    (at once where the Django cache is shared, else within ``READ_CACHE_SECONDS``). Also the
    receiver of every identifier type's ``post_save`` and ``post_delete``."""
    _policy_cache.changed()


@dataclass
class Policy:
    by_key: dict[str, TypePolicy]

    @classmethod
    def cached(cls) -> Policy:
        """``load()``, kept per process (``people.caching.ProcessCache``), shared: read it, never
        ``add`` to it (``for_batch``)."""
        return _policy_cache.get("policy", cls.load)

    @classmethod
    def for_batch(cls) -> Policy:
        """A copy of the cached policy that a tracking batch may ``add`` custom types to: no query
        while the cache is current. A change to the identifier types reaches the batches that start
        after it commits (in other processes at once where the Django cache is shared, else within
        ``READ_CACHE_SECONDS``)."""
        return cls(dict(cls.cached().by_key))

    @classmethod
    def load(cls) -> Policy:
        rows = list(IdentifierType.objects.all())
        if not {row.key for row in rows} >= DEFAULT_KEYS:
            ensure_default_types()
            rows = list(IdentifierType.objects.all())
        return cls({row.key: compile_policy(row) for row in rows})

    def get(self, key: str) -> TypePolicy | None:
        key = key.strip().lower()
        return self.by_key.get(TYPE_ALIASES.get(key, key))

    def lookup_key(self, type_key: str, value: str) -> tuple[int, str] | None:
        """``(identifier type id, normalised value)``, the key an identity is stored under, for a
        read by ``type_key:value``; None for an unknown type or a value that does not normalise."""
        policy = self.get(type_key)
        if policy is None:
            return None
        try:
            return policy.id, policy.normalize(value)
        except InvalidIdentifier:
            return None

    def add(self, row: IdentifierType) -> TypePolicy:
        policy = compile_policy(row)
        self.by_key[row.key] = policy
        return policy

    def rank(self, key: str) -> tuple[int, str]:
        policy = self.by_key[key]
        return (policy.priority, policy.key)


def ensure_default_types() -> None:
    """Recreate the default identifier types (the data migration's rows) after a database flush."""
    for row in DEFAULT_TYPES:
        try:
            with transaction.atomic():
                IdentifierType.objects.get_or_create(key=row[0], defaults=default_type_fields(*row))
        except IntegrityError:
            continue  # created concurrently


DEFAULT_KEYS = {row[0] for row in DEFAULT_TYPES}


def custom_type_defaults(key: str) -> dict:
    """A type first seen in ``context.externalIds`` or mParticle identities: known, limit 5, last."""
    for row in DEFAULT_TYPES:
        if row[0] == key:
            return default_type_fields(*row)
    return {"label": key, "priority": 100, "limit": 5, "anonymous": False, "normalizer": "trim"}
