"""Adaptive allocation: actions that share a slot compete, and each request gets one of them.

With allocation switched on, the request picks by Thompson sampling: each action's acceptance rate
has a Beta(1 + accepted, 1 + delivered − accepted) posterior; one draw per action, the highest draw
wins. With probability ``EXPLORATION`` the pick is uniform instead (a floor of exploration, so a
loser that improves is noticed). Counts are read in one grouped query and kept per process for
``CACHE_SECONDS``.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from django.db.models import Count, Q

EXPLORATION = 0.05
CACHE_SECONDS = 5.0

_lock = threading.Lock()
_stats: dict[str, Any] = {"at": 0.0, "ids": frozenset(), "counts": {}}


def forget_stats() -> None:
    with _lock:
        _stats.update(at=0.0, ids=frozenset(), counts={})


def stats(action_ids: set[int]) -> dict[int, tuple[int, int]]:
    """``{action_id: (delivered, accepted)}``."""
    from actions.models import Reaction, ReactionKind

    now = time.monotonic()
    ids = frozenset(action_ids)
    with _lock:
        if ids <= _stats["ids"] and now - _stats["at"] < CACHE_SECONDS:
            return {i: _stats["counts"].get(i, (0, 0)) for i in ids}
    rows = (
        Reaction.objects.filter(action_id__in=ids, kind__in=[ReactionKind.DELIVERED, ReactionKind.ACCEPTED])
        .values("action_id")
        .annotate(
            delivered=Count("pk", filter=Q(kind=ReactionKind.DELIVERED)),
            accepted=Count("pk", filter=Q(kind=ReactionKind.ACCEPTED)),
        )
    )
    counts = {row["action_id"]: (row["delivered"], row["accepted"]) for row in rows}
    with _lock:
        _stats.update(at=now, ids=ids, counts=counts)
    return {i: counts.get(i, (0, 0)) for i in ids}


def posterior(delivered: int, accepted: int) -> tuple[float, float]:
    accepted = min(accepted, delivered) if delivered else accepted
    return 1.0 + accepted, 1.0 + max(delivered - accepted, 0)


def posterior_mean(delivered: int, accepted: int) -> float:
    a, b = posterior(delivered, accepted)
    return a / (a + b)


def pick(action_ids: list[int], counts: dict[int, tuple[int, int]], rng: random.Random) -> int:
    if rng.random() < EXPLORATION:
        return rng.choice(action_ids)
    draws = {i: rng.betavariate(*posterior(*counts.get(i, (0, 0)))) for i in action_ids}
    return max(action_ids, key=lambda i: (draws[i], -i))


def competing(actions: list) -> bool:
    """Whether ``choose`` may drop any of ``actions`` (two or more share a slot with allocation on)."""
    slots: set[str] = set()
    for action in actions:
        if action.allocation and action.slot:
            if action.slot in slots:
                return True
            slots.add(action.slot)
    return False


def choose(eligible: list, rng: random.Random | None = None) -> list:
    """``eligible`` with, per slot with allocation on, only the one action Thompson sampling picks."""
    slots: dict[str, list[int]] = {}
    for action in eligible:
        if action.allocation and action.slot:
            slots.setdefault(action.slot, []).append(action.id)
    competing = {slot: ids for slot, ids in slots.items() if len(ids) > 1}
    if not competing:
        return eligible
    rng = rng or random.Random()  # noqa: S311 - sampling, not security
    counts = stats({i for ids in competing.values() for i in ids})
    losers = set()
    for ids in competing.values():
        winner = pick(sorted(ids), counts, rng)
        losers |= {i for i in ids if i != winner}
    return [a for a in eligible if a.id not in losers]
