"""Reads of the audiences app.

Stable contract (the actions app relies on it):

- ``member_audience_ids(person_id=)``: the ids of the active audiences the person is a member of now;
- ``is_member(person_id=, audience_ids=)``: whether the person is a member of any of them.

A merged child is never a member (its memberships are removed when it is merged).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

from audiences.models import Audience, AudienceMembership


def _current(person_id: int):
    return AudienceMembership.objects.filter(
        person_id=person_id,
        version=F("audience__version"),
        audience__state=Audience.State.ACTIVE,
        person__merged_into__isnull=True,
    )


def member_audience_ids(*, person_id: int) -> set[int]:
    """Active audiences the (unmerged) person is a member of."""
    return set(_current(person_id).values_list("audience_id", flat=True))


def is_member(*, person_id: int, audience_ids: Iterable[int]) -> bool:
    ids = list(audience_ids)
    if not ids:
        return False
    return _current(person_id).filter(audience_id__in=ids).exists()
