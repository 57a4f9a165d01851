"""Reads of the people data model."""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.urls import reverse

from people import extensions
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


def profile_360_context(
    *,
    person: Person,
    request=None,
    kinds: tuple[str, ...] = ("events", "changes"),
    event_name: str = "",
    before: datetime | None = None,
    as_of: datetime | None = None,
) -> dict:
    """Everything the Person 360 page shows besides the edit form.

    Higher apps add sections through ``people.extensions.register_person_panel``; each panel's own
    data stays under ``panel["context"]`` (its template reads it at the top level)."""
    panels = [
        {
            "key": panel.key,
            "title": panel.title,
            "template": panel.template,
            "context": panel.context(person, request),
        }
        for panel in sorted(extensions.person_panels.values(), key=lambda p: p.order)
    ]
    return {
        "person": person,
        "device": person_latest_device(person=person),
        "attribute_rows": person_attribute_rows(person=person),
        "timeline": person_timeline(person=person, kinds=kinds, event_name=event_name, before=before),
        "event_names": list(
            Event.objects.filter(person=person).order_by().values_list("name", flat=True).distinct()[:50]
        ),
        "as_of": as_of,
        "as_of_rows": person_attributes_as_of(person=person, at=as_of) if as_of else [],
        "channel_contacts": person.channel_contacts.select_related("channel").order_by("channel__name"),
        "panels": panels,
        "events_url": reverse("admin:people_event_changelist") + f"?person={person.pk}",
    }


ZONE_TABLE = "/usr/share/zoneinfo/zone.tab"


def organization_phone_region() -> str | None:
    """The region (ISO country) national phone numbers are read in: the country of the organization's
    timezone (``Europe/Berlin`` → ``DE``), from the system's zone table; ``None`` when unknown."""
    zone = organization().timezone
    return _zone_countries().get(zone)


@functools.cache
def _zone_countries() -> dict[str, str]:
    try:
        with open(ZONE_TABLE, encoding="utf-8") as table:
            rows = [line.split("\t") for line in table if line.strip() and not line.startswith("#")]
    except OSError:
        return {}
    return {row[2].strip(): row[0].strip() for row in rows if len(row) >= 3}


PHONE_LIKE = re.compile(r"\+?[\d\s().-]{6,20}")


def person_search_q(*, term: str) -> Q:
    """What the person list's search box finds, by the shape of the term, each kind index-backed:

    - with ``@``: part of an email (``ada@``, ``@example.com``; trigram index on PostgreSQL);
    - a unified id;
    - a phone number in international or national format (``+49 1547 929020``, ``01547 929020``): read
      in the organization's region, and matched on its national digits at the end of the stored E.164
      number (trigram index);
    - any identifier, through the searches higher apps register (``extensions.person_searches``);
    - otherwise a name: every word must start a first or last name.
    """
    term = term.replace("\x00", "")
    found = Q(pk__in=[])
    if "@" in term and len(term) >= 3:  # "@" alone, or "a@", would list everyone
        found |= Q(email__contains=term.lower())
    with contextlib.suppress(ValueError):
        found |= Q(uid=uuid.UUID(term))
    if PHONE_LIKE.fullmatch(term):
        found |= _phone_q(term)
    ids: set[int] = set()
    for search in extensions.person_searches.values():
        ids.update(search(term))
    if ids:
        found |= Q(pk__in=ids)
    if "@" not in term:
        words = Q()
        for word in term.split()[:4]:
            words &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
        found |= words
    return found


def _phone_q(term: str) -> Q:
    import phonenumbers

    digits = re.sub(r"\D", "", term)
    found = Q(pk__in=[])
    international = term.startswith(("+", "00"))
    region = None if international else organization_phone_region()
    with contextlib.suppress(phonenumbers.NumberParseException):
        number = phonenumbers.parse("+" + term.lstrip("+0") if international else term, region)
        if phonenumbers.is_possible_number(number):
            found |= Q(phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    national = digits.lstrip("0")
    if not international and len(national) >= 6:
        # A national number without its trunk prefix ends the stored E.164 number in any region.
        found |= Q(phone__endswith=national)
    return found


TIMELINE_KINDS = ("events", "changes")


def person_timeline(
    *,
    person: Person,
    kinds: tuple[str, ...] = TIMELINE_KINDS,
    event_name: str = "",
    before: datetime | None = None,
    limit: int = 25,
) -> dict:
    """One page of a person's timeline, newest first: events and attribute changes merged by time.

    ``before`` pages back (the ``next_before`` of the previous page). Each kind is read with one
    indexed query of at most ``limit`` rows, so a page costs two queries however long the history."""
    items: list[dict] = []
    if "events" in kinds:
        events = Event.objects.filter(person=person).select_related("channel", "source")
        if event_name:
            events = events.filter(name=event_name)
        if before is not None:
            events = events.filter(timestamp__lt=before)
        for event in events.order_by("-timestamp", "-pk")[:limit]:
            items.append({"kind": "event", "at": event.timestamp, "event": event})
    if "changes" in kinds and not event_name:
        changes = person.attribute_changes.select_related("source", "actor")
        if before is not None:
            changes = changes.filter(effective_at__lt=before)
        for change in changes.order_by("-effective_at", "-pk")[:limit]:
            items.append({"kind": "change", "at": change.effective_at, "change": change})
    items.sort(key=lambda item: item["at"], reverse=True)
    page = items[:limit]
    more = len(items) > limit or (len(page) == limit)
    return {"items": page, "next_before": page[-1]["at"] if page and more else None}


def person_attributes_as_of(*, person: Person, at: datetime) -> list[dict]:
    """The person's standard and custom attributes as they were at ``at``, rebuilt from the change log
    (the latest change of each key at or before ``at``), beside today's values. A key never changed
    by then reads as empty; ``recorded`` says whether the log knew the key at that time."""
    at_then: dict[str, object] = {}
    for key, value in (
        person.attribute_changes.filter(effective_at__lte=at)
        .order_by("key", "-effective_at", "-pk")
        .values_list("key", "new_value")
    ):
        at_then.setdefault(key, value)
    rows = person_attribute_rows(person=person)
    return [
        {**row, "then": at_then.get(row["key"]), "recorded": row["key"] in at_then}
        for row in rows
        if row["key"] in at_then or row["value"] not in (None, "")
    ]
