"""The computed app's sections of the Person 360 page and its dashboard number."""

from __future__ import annotations


def computed_values_context(person, request) -> dict:
    from computed.selectors import person_computed_rows

    return {"computed_rows": person_computed_rows(person_id=person.pk, exclude_group="purchase_statistics")}


def purchase_statistics_context(person, request) -> dict:
    from computed.selectors import person_purchase_statistics

    return {"purchase_statistics": person_purchase_statistics(person_id=person.pk)}


def active_count() -> int:
    from computed.models import ComputedAttribute

    return ComputedAttribute.objects.filter(state=ComputedAttribute.State.ACTIVE).count()


def key_in_use(key: str) -> bool:
    from computed.models import ComputedAttribute

    return ComputedAttribute.objects.filter(key=key).exists()
