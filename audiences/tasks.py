"""django-q2 entry points of the audiences app. They take ids and are safe to run twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def refresh_people(
    person_ids: Sequence[int], reason: str = "", events: Mapping[int, Iterable[str]] | None = None
) -> int:
    """Called by people's drain of pending changes (ATTUNE_PERSON_CHANGED_TASKS) when people change;
    ``events``: only events changed about them, these names per person."""
    from audiences.services import refresh_people as refresh

    return refresh(person_ids, reason=reason, events=events)


def reevaluate_windows() -> list[str]:
    """The scheduled refresh of audiences whose windows slide (daily, organization timezone)."""
    from audiences.services import reevaluate_sliding

    return reevaluate_sliding()
