"""The registry of every model that holds data about a person (Sentry's deletion registry).

Each app registers its own models in ``AppConfig.ready()``; the privacy app exports and erases a
person through this registry only, so a new table cannot be forgotten (a test lists every model with
a person reference and fails when one is not registered).

    register_personal_data(Event, person_field="person")
    register_personal_data(Merge, person_field=("parent", "child"))

``person_field`` names the field(s) (a foreign key to ``Person`` or an integer person id) through which
a row belongs to a person. ``identifier_fields`` names text or JSON fields that may carry a person's
identifier values without a person reference (queued inbound batches, rejected messages).

Erasure deletes a registered model's rows by its person fields, in primary-key batches, and the rows
whose identifier fields contain one of the person's identifier values. Options change that:

- ``on_match="delete"`` (default) | ``"null"`` (set the identifier fields to null, keep the row) |
  ``"remove_items"`` (the field is a JSON list of messages: drop the items that carry a value, delete
  the row when none is left) says what happens to a row whose identifier fields match.
- ``identifier_pair=("type__key", "value")``: rows naming an identifier exactly (type and value)
  instead of by a text search.
- ``linked=("message_id", "people.Event", "message_id")``: rows whose field equals that field of the
  person's rows in another registered model (dedupe keys of the person's events); erased before it.
- ``erase=callable(ctx) -> int`` replaces the default with the app's own function (``ctx`` is a
  ``privacy.erasure.ErasureContext``: ``person_ids``, ``values``, ``patterns``); it returns the
  number of rows deleted or scrubbed (a request log that keeps its rows but drops their values).
- ``order=int`` (default 100): lower runs earlier (dedupe keys are found through the events, so they go
  before them); ``Person`` itself is always last.
- ``export=False`` leaves the model out of access exports (a table of hashes, a cache).
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


def is_registered(model: type[models.Model]) -> bool:
    return model._meta.label in registry


def get(model: type[models.Model]) -> PersonalData | None:
    return registry.get(model._meta.label)
