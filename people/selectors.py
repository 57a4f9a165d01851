"""Reads of the people data model."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from people.attributes import STANDARD_ATTRIBUTES, read_attribute
from people.models import AttributeChange, AttributeDefinition, Event, OrganizationSettings, Person

ORGANIZATION_CACHE_KEY = OrganizationSettings.objects.CACHE_KEY


def organization() -> OrganizationSettings:
    """The organization's settings row, cached (see ``OrganizationSettingsManager.get_current``)."""
    return OrganizationSettings.objects.get_current()


def organization_tz() -> ZoneInfo:
    return organization().zone


def organization_today(now: datetime | None = None):
    return organization().today(now)


def person_recent_events(*, person: Person, limit: int = 50) -> QuerySet[Event]:
    return (
        Event.objects.filter(person=person).select_related("channel", "source").order_by("-timestamp")[:limit]
    )


def person_latest_device(*, person: Person) -> dict:
    """Device information from the context of the person's latest event that has one.

    Clients send contexts of any shape; anything that is not the expected object is ignored.
    """
    context = (
        Event.objects.filter(person=person)
        .exclude(context={})
        .order_by("-timestamp")
        .values_list("context", flat=True)
        .first()
    )
    context = context if isinstance(context, dict) else {}

    def part(name: str) -> dict:
        value = context.get(name)
        return value if isinstance(value, dict) else {}

    def text(*values) -> str:
        return " ".join(str(v) for v in values if v not in (None, "") and not isinstance(v, (dict, list)))

    device, os_info, location, browser = part("device"), part("os"), part("location"), part("browser")
    user_agent = context.get("userAgent")
    return {
        "device": text(device.get("manufacturer"), device.get("model")) or text(device.get("type")),
        "os": text(os_info.get("name"), os_info.get("version")),
        "browser": text(browser.get("name"), browser.get("version"))
        or (user_agent[:80] if isinstance(user_agent, str) else ""),
        "country": text(location.get("country")),
        "city": text(location.get("city")),
        "language": text(context.get("locale")),
        "timezone": text(context.get("timezone")),
    }


def person_attribute_rows(*, person: Person) -> list[dict]:
    """Standard and custom attributes with value, source and update time (for the 360 page)."""
    from people.models import Source

    meta = person.attribute_meta or {}
    source_ids = {m.get("source") for m in meta.values() if m.get("source")}
    sources = {s.pk: s.name for s in Source.objects.filter(pk__in=source_ids)}
    rows = []
    for key, spec in STANDARD_ATTRIBUTES.items():
        rows.append(
            _row(key, spec.label, spec.type, read_attribute(person, key), meta.get(key), sources, True)
        )
    for definition in AttributeDefinition.objects.all():
        rows.append(
            _row(
                definition.key,
                definition.label,
                definition.type,
                person.custom.get(definition.key),
                meta.get(definition.key),
                sources,
                False,
            )
        )
    return rows


def _row(key, label, type_, value, meta, sources, standard) -> dict:
    from django.utils.dateparse import parse_datetime

    meta = meta or {}
    source_id = meta.get("source")
    return {
        "key": key,
        "label": label,
        "type": type_,
        "value": value,
        "standard": standard,
        "source": sources.get(source_id, "") if source_id else ("manual" if meta else ""),
        "updated_at": parse_datetime(meta["at"]) if meta.get("at") else None,
    }


def person_recent_changes(*, person: Person, limit: int = 20) -> QuerySet[AttributeChange]:
    return person.attribute_changes.select_related("source", "actor").order_by("-recorded_at")[:limit]
