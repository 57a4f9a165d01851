"""Audience membership as a boolean attribute of the condition language: ``audience:<key>``.

``{"attribute": "audience:vip", "op": "equals", "value": true}`` selects the current members of the
audience ``vip`` (its current version). Registered in ``AudiencesConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, Expression, F, OuterRef

from audiences.models import Audience, AudienceMembership
from people.conditions.attributes import AttributeRef
from people.models import AttributeType, Person

PREFIX = "audience:"


class AudienceProvider:
    kind = "audience"

    @staticmethod
    def _ref(audience: Audience) -> AttributeRef:
        return AttributeRef(
            f"{PREFIX}{audience.key}",
            f"Member of {audience.name}",
            AttributeType.BOOLEAN,
            "audience",
            ref_id=audience.pk,
            default=False,
        )

    def lookup(self, key: str) -> AttributeRef | None:
        if not key.startswith(PREFIX):
            return None
        audience = Audience.objects.filter(key=key.removeprefix(PREFIX)).first()
        return self._ref(audience) if audience is not None else None

    def all(self) -> Iterable[AttributeRef]:
        return [self._ref(a) for a in Audience.objects.exclude(state=Audience.State.DISABLED)]

    def expression(self, ref: AttributeRef) -> Expression:
        return Exists(
            AudienceMembership.objects.filter(
                audience_id=ref.ref_id, version=F("audience__version"), person_id=OuterRef("pk")
            )
        )

    def sql(self, ref: AttributeRef, *, alias: str, vendor: str) -> tuple[str, list]:
        members = AudienceMembership._meta.db_table
        audiences = Audience._meta.db_table
        return (
            f"EXISTS (SELECT 1 FROM {members} am JOIN {audiences} aa ON aa.id = am.audience_id "
            f"AND aa.version = am.version WHERE am.audience_id = %s AND am.person_id = {alias}.id)",
            [ref.ref_id],
        )

    def values(self, person: Person, refs: list[AttributeRef]) -> dict[str, Any]:
        ids = {ref.ref_id: ref.key for ref in refs}
        members = set(
            AudienceMembership.objects.filter(
                audience_id__in=ids, version=F("audience__version"), person_id=person.pk
            ).values_list("audience_id", flat=True)
        )
        return {key: pk in members for pk, key in ids.items()}
