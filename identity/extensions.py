"""Extension points through which higher apps add to the Profile API without identity importing them.

A higher app registers in its ``AppConfig.ready()``:

- ``register_trait_source``: traits that ``/traits`` serves beside the standard and custom attributes,
  under a class name that ``class=`` narrows to (``computed_trait`` for computed attributes,
  ``audience`` for audience memberships). A source gives its query and how its rows become traits:
  ``rows``, a ``people.rawsql.CompiledOnce`` whose value is the person id (one row per trait), and
  ``traits(rows, person) -> {key: {"value", "updated_at"}}``. ``/traits`` adds every source's query
  to the identifier lookup (``CompiledOnce.arrays``), so a request is one statement whatever the
  sources; other callers read one person with ``TraitSource.read(person)`` (the same query alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from people.rawsql import CompiledOnce

# The class of the attributes identity itself serves (standard and custom).
TRAIT_CLASS = "trait"


@dataclass(frozen=True)
class TraitSource:
    cls: str
    rows: CompiledOnce  # the person id -> one row per trait
    traits: Callable[[list, Any], dict[str, dict[str, Any]]]  # (rows, person) -> {key: {"value", ...}}
    label: str = ""

    def read(self, person) -> dict[str, dict[str, Any]]:
        """``{key: {"value", "updated_at"}}`` of one person (a statement of its own)."""
        return self.traits(self.rows.rows(person.pk), person)


trait_sources: dict[str, TraitSource] = {}


def register_trait_source(cls: str, *, rows: CompiledOnce, traits: Callable, label: str = "") -> None:
    trait_sources[cls] = TraitSource(cls, rows, traits, label or cls)


def trait_classes() -> list[str]:
    return [TRAIT_CLASS, *trait_sources]


# --- Message filters -------------------------------------------------------------------------------
# ``register_message_filter(key, filter)`` with ``filter(idents: set[tuple[type_key, value]]) ->
# dict[(type_key, value), reason]``: identifiers whose messages ingestion must drop (answered 200 like
# any accepted message, counted per reason, never quarantined with their payload). Called once per
# batch with every normalized identifier of the batch, in the step that checks suppressed identifiers.
# The privacy app registers tombstones of erased people and suppressed profiles this way.

message_filters: dict[str, Callable[[set[tuple[str, str]]], dict[tuple[str, str], str]]] = {}


def register_message_filter(key: str, message_filter: Callable) -> None:
    message_filters[key] = message_filter


def blocked_identifiers(idents: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Every registered filter's verdict on ``idents``: ``{(type_key, value): reason}``."""
    blocked: dict[tuple[str, str], str] = {}
    if not idents:
        return blocked
    for message_filter in message_filters.values():
        for ident, reason in message_filter(idents).items():
            blocked.setdefault(ident, reason)
    return blocked
