"""Extension points through which higher apps add to the Profile API without identity importing them.

A higher app registers in its ``AppConfig.ready()``:

- ``register_trait_source``: traits that ``/traits`` serves beside the standard and custom attributes,
  under a class name that ``class=`` narrows to (``computed_trait`` for computed attributes,
  ``audience`` for audience memberships). ``read(person) -> {key: {"value", "updated_at"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The class of the attributes identity itself serves (standard and custom).
TRAIT_CLASS = "trait"


@dataclass(frozen=True)
class TraitSource:
    cls: str
    read: Callable[[Any], dict[str, dict[str, Any]]]  # (person) -> {key: {"value", "updated_at"}}
    label: str = ""


trait_sources: dict[str, TraitSource] = {}


def register_trait_source(cls: str, *, read: Callable, label: str = "") -> None:
    trait_sources[cls] = TraitSource(cls, read, label or cls)


def trait_classes() -> list[str]:
    return [TRAIT_CLASS, *trait_sources]
