"""Per-process caches of small rows read on hot paths (identifier types, access tokens).

A ``ProcessCache`` keeps values in this process for at most ``seconds``. The service that changes
the rows calls ``changed()``: after the transaction commits, it empties this process's copy and
raises a version number kept in Django's cache (``CACHES``), which every process compares on each
read. So:

- the process that made the change sees it at once;
- with a cache shared between processes (Redis, Memcached), every process sees it at once;
- with Django's default per-process memory cache, other processes see it within ``seconds``.

Reading the version costs one cache lookup per read (a dictionary lookup in memory, a round trip
to Redis), far less than the query it saves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

_caches: list[ProcessCache] = []


class ProcessCache:
    def __init__(self, name: str, *, seconds: float, max_entries: int = 1000):
        self.name = name
        self.seconds = seconds
        self.max_entries = max_entries
        self.version_key = f"attune:version:{name}"
        self._entries: dict[Hashable, tuple[Any, float, Any]] = {}
        _caches.append(self)

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value of ``key``, or ``load()`` (then kept) when missing, stale or outdated."""
        now = time.monotonic()
        version = cache.get(self.version_key)
        entry = self._entries.get(key)
        if entry is not None and entry[1] >= now and entry[2] == version:
            return entry[0]
        value = load()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (value, now + self.seconds, version)
        return value

    def clear(self) -> None:
        """Forget this process's copies (tests; the version is left alone)."""
        self._entries.clear()

    def changed(self) -> None:
        """The rows behind this cache changed: this process forgets its copy now and again after
        commit (a read in between may have kept the old rows); every process reloads after commit."""
        self._entries.clear()
        transaction.on_commit(self._bump)

    def _bump(self) -> None:
        self._entries.clear()
        try:
            cache.incr(self.version_key)
        except ValueError:  # no version yet (or the cache lost it): any new value differs from None
            cache.set(self.version_key, time.time_ns(), timeout=None)


def clear_all() -> None:
    """Forget every process cache's copies (each test starts empty)."""
    for process_cache in _caches:
        process_cache.clear()
