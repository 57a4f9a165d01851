"""The registry of every model that holds data about a person (Sentry's deletion registry).

Each app registers its own models in ``AppConfig.ready()``; the privacy app exports and erases a
person through this registry only, so a new table cannot be forgotten (a test lists every model with
a person reference and fails when one is not registered).

    register_personal_data(Event, person_field="person")
    register_personal_data(Merge, person_field=("parent", "child"))

``person_field`` names the field(s) (a foreign key to ``Person`` or an integer person id) through which
a row belongs to a person. ``identifier_fields`` names text or JSON fields that may carry a person's
identifier values without a person reference (queued inbound batches, rejected messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models


@dataclass(frozen=True)
class PersonalData:
    model: type[models.Model]
    person_fields: tuple[str, ...] = ()
    identifier_fields: tuple[str, ...] = ()
    description: str = ""
    export: bool = True
    options: dict = field(default_factory=dict)


registry: dict[str, PersonalData] = {}


def register_personal_data(
    model: type[models.Model],
    *,
    person_field: str | tuple[str, ...] = (),
    identifier_fields: tuple[str, ...] = (),
    description: str = "",
    export: bool = True,
    **options,
) -> None:
    fields = (person_field,) if isinstance(person_field, str) else tuple(person_field)
    registry[model._meta.label] = PersonalData(
        model, fields, tuple(identifier_fields), description, export, dict(options)
    )


def registered() -> list[PersonalData]:
    return list(registry.values())
