"""Which attributes a condition or formula may name, and how to read them (SQL and Python).

Built in: standard attributes (columns), system attributes (read-only columns) and custom
attributes (``Person.custom``). Higher apps add their own through ``register_attribute_provider``
in ``AppConfig.ready()`` (computed attributes do), so people never imports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from django.db.models import Expression, F, TextField, Value
from django.db.models.functions import NullIf

from people.attributes import STANDARD_ATTRIBUTES, to_python
from people.conditions.sql import JsonScalar, json_scalar_sql
from people.models import AttributeDefinition, AttributeType, Person

# Attribute types as the languages see them.
VALUE_TYPES = {
    AttributeType.TEXT: "text",
    AttributeType.DECIMAL: "number",
    AttributeType.INTEGER: "number",
    AttributeType.BOOLEAN: "boolean",
    AttributeType.DATE: "date",
    AttributeType.DATETIME: "datetime",
    AttributeType.LIST: "list",
}


@dataclass(frozen=True)
class AttributeRef:
    key: str
    label: str
    type: str  # an AttributeType value
    kind: str  # standard | system | custom | computed | ...
    ref_id: int | None = None  # the provider's own id (e.g. the computed attribute's pk)
    default: Any = None  # the value when nothing is stored
    column: str = ""  # a Person column, for standard and system attributes

    @property
    def value_type(self) -> str:
        return VALUE_TYPES[self.type]


class AttributeProvider(Protocol):
    kind: str

    def lookup(self, key: str) -> AttributeRef | None: ...

    def all(self) -> Iterable[AttributeRef]: ...

    def expression(self, ref: AttributeRef) -> Expression:
        """An ORM expression evaluated on a Person queryset."""

    def sql(self, ref: AttributeRef, *, alias: str, vendor: str) -> tuple[str, list]:
        """Raw SQL reading the attribute of the person row ``alias`` (a ``people_person`` alias)."""

    def values(self, person: Person, refs: list[AttributeRef]) -> dict[str, Any]:
        """Python values (dates parsed, empty as None) of one person."""


SYSTEM_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "kind": ("Kind", AttributeType.TEXT),
    "created_at": ("Created", AttributeType.DATETIME),
    "modified_at": ("Modified", AttributeType.DATETIME),
    "first_seen_at": ("First seen", AttributeType.DATETIME),
    "last_activity_at": ("Last activity", AttributeType.DATETIME),
    "last_contacted_at": ("Last contacted", AttributeType.DATETIME),
    "event_count": ("Number of events", AttributeType.INTEGER),
    "session_count": ("Number of sessions", AttributeType.INTEGER),
}


class ColumnProvider:
    """Standard and system attributes: columns of the person row."""

    kind = "standard"

    def lookup(self, key: str) -> AttributeRef | None:
        if key in STANDARD_ATTRIBUTES:
            spec = STANDARD_ATTRIBUTES[key]
            return AttributeRef(key, spec.label, spec.type, "standard", column=key)
        if key in SYSTEM_ATTRIBUTES:
            label, type_ = SYSTEM_ATTRIBUTES[key]
            return AttributeRef(key, label, type_, "system", column=key)
        return None

    def all(self) -> Iterable[AttributeRef]:
        for key in [*STANDARD_ATTRIBUTES, *SYSTEM_ATTRIBUTES]:
            ref = self.lookup(key)
            if ref is not None:
                yield ref

    def expression(self, ref: AttributeRef) -> Expression:
        if ref.type == AttributeType.TEXT:
            return NullIf(F(ref.column), Value(""), output_field=TextField())
        return F(ref.column)

    def sql(self, ref: AttributeRef, *, alias: str, vendor: str) -> tuple[str, list]:
        column = Person._meta.get_field(ref.column).column
        if ref.type == AttributeType.TEXT:
            return f"NULLIF({alias}.{column}, '')", []
        return f"{alias}.{column}", []

    def values(self, person: Person, refs: list[AttributeRef]) -> dict[str, Any]:
        out = {}
        for ref in refs:
            value = getattr(person, ref.column)
            out[ref.key] = None if value == "" else value
        return out


class CustomProvider:
    """Custom attributes: typed JSON values in ``Person.custom``."""

    kind = "custom"

    def lookup(self, key: str) -> AttributeRef | None:
        definition = AttributeDefinition.objects.filter(key=key).first()
        return self._ref(definition) if definition else None

    def all(self) -> Iterable[AttributeRef]:
        return [self._ref(d) for d in AttributeDefinition.objects.all()]

    @staticmethod
    def _ref(definition: AttributeDefinition) -> AttributeRef:
        return AttributeRef(definition.key, definition.label, definition.type, "custom", ref_id=definition.pk)

    def expression(self, ref: AttributeRef) -> Expression:
        return JsonScalar(F("custom"), (ref.key,), ref.value_type)

    def sql(self, ref: AttributeRef, *, alias: str, vendor: str) -> tuple[str, list]:
        return json_scalar_sql(vendor, f"{alias}.custom", (ref.key,), ref.value_type)

    def values(self, person: Person, refs: list[AttributeRef]) -> dict[str, Any]:
        out = {}
        for ref in refs:
            raw = (person.custom or {}).get(ref.key)
            out[ref.key] = python_value(ref.value_type, raw)
        return out


def python_value(value_type: str, raw: Any) -> Any:
    """A stored JSON value as the languages see it (the Python twin of ``json_scalar_sql``)."""
    if raw is None:
        return None
    if value_type == "number":
        return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if value_type == "text":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        return str(raw) if isinstance(raw, str | int | float) else None
    if value_type == "boolean":
        return raw if isinstance(raw, bool) else None
    if value_type == "list":
        return raw if isinstance(raw, list) and raw else None
    if value_type in ("date", "datetime"):
        if isinstance(raw, date):
            return raw
        try:
            return to_python(value_type, raw) if isinstance(raw, str) else None
        except ValueError:
            return None
    return raw


_providers: dict[str, AttributeProvider] = {}


def register_attribute_provider(provider: AttributeProvider) -> None:
    """Add a kind of attribute (e.g. computed) that conditions and formulas may name."""
    _providers[provider.kind] = provider


def providers() -> list[AttributeProvider]:
    return list(_providers.values())


def provider_of(ref: AttributeRef) -> AttributeProvider:
    return _providers["standard" if ref.kind == "system" else ref.kind]


def resolve(key: str) -> AttributeRef | None:
    for provider in _providers.values():
        ref = provider.lookup(key)
        if ref is not None:
            return ref
    return None


def all_attributes() -> list[AttributeRef]:
    return [ref for provider in _providers.values() for ref in provider.all()]


def attribute_values(person: Person, refs: Iterable[AttributeRef]) -> dict[str, Any]:
    """Python values of several attributes of one person (one query per provider at most)."""
    by_kind: dict[str, list[AttributeRef]] = {}
    for ref in refs:
        by_kind.setdefault("standard" if ref.kind == "system" else ref.kind, []).append(ref)
    out: dict[str, Any] = {}
    for kind, kind_refs in by_kind.items():
        out.update(_providers[kind].values(person, kind_refs))
    return out


register_attribute_provider(ColumnProvider())
register_attribute_provider(CustomProvider())

__all__ = [
    "AttributeRef",
    "AttributeProvider",
    "attribute_values",
    "all_attributes",
    "python_value",
    "register_attribute_provider",
    "resolve",
]
