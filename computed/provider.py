"""Computed attributes as an attribute kind of the condition and formula languages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Expression, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from people.conditions.attributes import AttributeRef
from people.conditions.sql import AliasColumn
from people.models import AttributeType, Person

# States whose values exist and may be referenced (new references must be to active ones).
READABLE_STATES = ("active", "processing", "disabled")


def ref_of(attribute) -> AttributeRef:
    return AttributeRef(
        attribute.key,
        attribute.name,
        attribute.output_type,
        "computed",
        ref_id=attribute.pk,
        default=attribute.empty_value,
    )


def stored_to_python(output_type: str, stored: Any) -> Any:
    """A value column as the languages see it (numbers as float, dates as date objects)."""
    if stored is None:
        return None
    if output_type in (AttributeType.INTEGER, AttributeType.DECIMAL):
        return float(stored)
    return stored


class ComputedProvider:
    kind = "computed"

    def lookup(self, key: str) -> AttributeRef | None:
        from computed.models import ComputedAttribute

        attribute = ComputedAttribute.objects.filter(key=key, state__in=READABLE_STATES).first()
        return ref_of(attribute) if attribute else None

    def all(self) -> Iterable[AttributeRef]:
        from computed.models import ComputedAttribute

        return [ref_of(a) for a in ComputedAttribute.objects.filter(state__in=READABLE_STATES)]

    def expression(self, ref: AttributeRef) -> Expression:
        from computed.models import VALUE_COLUMNS, ComputedValue

        column = VALUE_COLUMNS[ref.type]
        stored = Subquery(
            ComputedValue.objects.filter(attribute_id=ref.ref_id, person_id=OuterRef("pk")).values(column)[:1]
        )
        if ref.default is None:
            return stored
        field = ComputedValue._meta.get_field(column)
        return Coalesce(stored, Value(ref.default, output_field=field), output_field=field)

    def sql(self, ref: AttributeRef, *, alias: str, vendor: str) -> tuple[str, list]:
        from computed.models import VALUE_COLUMNS, ComputedValue

        column = VALUE_COLUMNS[ref.type]
        table = ComputedValue._meta.db_table
        stored = (
            f"(SELECT cv.{column} FROM {table} cv WHERE cv.attribute_id = %s AND cv.person_id = {alias}.id)"
        )
        if ref.default is None:
            return stored, [ref.ref_id]
        if vendor == "postgresql":
            cast = "double precision" if column == "number" else "boolean"
            return f"COALESCE({stored}, CAST(%s AS {cast}))", [ref.ref_id, ref.default]
        return f"COALESCE({stored}, %s)", [ref.ref_id, ref.default]

    # Set-based reads (over everyone): one LEFT JOIN per attribute instead of a correlated read per row.
    def join(self, ref: AttributeRef, *, person: str, alias: str) -> tuple[str, list]:
        """``LEFT JOIN`` of the stored values of ``ref`` as ``alias`` onto the person row ``person``."""
        from computed.models import ComputedValue

        table = ComputedValue._meta.db_table
        return (
            f"LEFT JOIN {table} {alias} ON {alias}.attribute_id = %s AND {alias}.person_id = {person}.id",
            [ref.ref_id],
        )

    def joined_sql(self, ref: AttributeRef, *, alias: str, vendor: str) -> tuple[str, list]:
        """The value of ``ref`` read from its join (the empty value where no row is stored)."""
        from computed.models import VALUE_COLUMNS

        column = VALUE_COLUMNS[ref.type]
        if ref.default is None:
            return f"{alias}.{column}", []
        if vendor == "postgresql":
            cast = "double precision" if column == "number" else "boolean"
            return f"COALESCE({alias}.{column}, CAST(%s AS {cast}))", [ref.default]
        return f"COALESCE({alias}.{column}, %s)", [ref.default]

    def joined_expression(self, ref: AttributeRef, *, alias: str) -> Expression:
        from computed.models import VALUE_COLUMNS, ComputedValue

        column = VALUE_COLUMNS[ref.type]
        field = ComputedValue._meta.get_field(column)
        stored = AliasColumn(alias, column, output_field=field)
        if ref.default is None:
            return stored
        return Coalesce(stored, Value(ref.default, output_field=field), output_field=field)

    def values(self, person: Person, refs: list[AttributeRef]) -> dict[str, Any]:
        from computed.models import ComputedValue, stored_in_range

        ids = {ref.ref_id: ref for ref in refs}
        rows = ComputedValue.objects.filter(
            stored_in_range(), person_id=person.pk, attribute_id__in=ids
        ).values("attribute_id", "number", "text", "flag", "day", "moment")
        out = {ref.key: stored_to_python(ref.type, ref.default) for ref in refs}
        from computed.models import VALUE_COLUMNS

        for row in rows:
            ref = ids[row["attribute_id"]]
            out[ref.key] = stored_to_python(ref.type, row[VALUE_COLUMNS[ref.type]])
        return out
