"""The definitions every tracking batch is checked against, read once per process.

Ingestion checks each batch against the event definitions (with their properties), the channels'
context properties and the custom attributes. Reading them took four queries per request, about a
quarter of a single ``/v1/track``'s time. ``definitions()`` keeps one snapshot per process in a
``people.caching.ProcessCache``; every save or delete of one of these rows (a service, the admin, the
shell: Django's ``post_save``/``post_delete`` signals, connected in ``people.apps``) and every bulk write
in the services calls ``definitions_changed()``. So:

- the process that made a change sees it at once;
- with a cache shared between processes (Redis, ``REDIS_URL``), every process sees it as soon as the
  change commits;
- with the default per-process memory cache, other processes see it within ``READ_CACHE_SECONDS``.

The snapshot is shared: callers copy what they change (``SchemaChecker`` copies the attributes it adds
to).
"""

from __future__ import annotations

from dataclasses import dataclass

from people.caching import ProcessCache
from people.models import (
    AttributeDefinition,
    ContextPropertyDefinition,
    EventDefinition,
    EventPropertyDefinition,
)

READ_CACHE_SECONDS = 10
_cache = ProcessCache("definitions", seconds=READ_CACHE_SECONDS)


@dataclass(frozen=True)
class Definitions:
    events: dict[str, EventDefinition]
    event_properties: dict[str, dict[str, EventPropertyDefinition]]
    context_properties: dict[int, list[ContextPropertyDefinition]]  # by channel id
    attributes: dict[str, AttributeDefinition]

    @classmethod
    def load(cls) -> Definitions:
        events = {d.name: d for d in EventDefinition.objects.all()}
        by_id = {d.pk: d for d in events.values()}
        props: dict[str, dict[str, EventPropertyDefinition]] = {name: {} for name in events}
        for prop in EventPropertyDefinition.objects.all():
            definition = by_id.get(prop.definition_id)
            if definition is not None:
                prop.definition = definition
                props[definition.name][prop.key] = prop
        context: dict[int, list[ContextPropertyDefinition]] = {}
        for prop in ContextPropertyDefinition.objects.select_related("definition").order_by("pk"):
            context.setdefault(prop.definition.channel_id, []).append(prop)
        attributes = {d.key: d for d in AttributeDefinition.objects.all()}
        return cls(events=events, event_properties=props, context_properties=context, attributes=attributes)


def definitions() -> Definitions:
    """The current definitions (this process's snapshot while it is current)."""
    return _cache.get("definitions", Definitions.load)


def definitions_changed(**_signal_kwargs) -> None:
    """Event, property, context or attribute definitions changed: this process forgets its snapshot
    now, and every process reloads after the transaction commits. Also a signal receiver."""
    _cache.changed()


def forget_definitions() -> None:
    """Forget this process's snapshot (tests)."""
    _cache.clear()
