"""django-q2 entry points of the computed app. They take ids and are safe to run twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def refresh_people(
    person_ids: Sequence[int], reason: str = "", events: Mapping[int, Iterable[str]] | None = None
) -> int:
    """Called by people's drain of pending changes (ATTUNE_PERSON_CHANGED_TASKS) when people change;
    ``events``: only events changed about them, these names per person."""
    from computed.services import refresh_people as refresh

    return refresh(person_ids, events=events, reason=reason)


def reevaluate_windows() -> list[str]:
    """The daily schedule: re-evaluate sliding windows over every profile."""
    from computed.services import reevaluate_sliding

    return reevaluate_sliding()
