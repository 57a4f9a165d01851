"""Reads of the people data model."""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.urls import reverse

from people import extensions
from people.attributes import STANDARD_ATTRIBUTES, read_attribute
from people.models import AttributeChange, AttributeDefinition, Event, OrganizationSettings, Person
from people.templatetags.attune import as_json, attr_value

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


def latest_events(*, after: int = 0, limit: int = 10) -> list[Event]:
    """The newest events received after the event ``after`` (by id: the order they were stored),
    newest first: the dashboard's live tail (the primary key index, however many events)."""
    return list(
        Event.objects.filter(pk__gt=after)
        .select_related("person", "source")
        .defer("context", "properties")
        .order_by("-pk")[:limit]
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
    kinds: tuple[str, ...] | None = None,
    event_name: str = "",
    before: str | None = None,
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
        "timeline_kinds": timeline_kinds(),
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


TIMELINE_PAGE = 25
ONE_MICROSECOND = timedelta(microseconds=1)
# The paging cursor in the page's address: "<time>~<kind>~<id>" of the last entry shown.
CURSOR_SEPARATOR = "~"


def _event_entries(person_ids, before, limit, *, event_name: str = "") -> list[extensions.TimelineEntry]:
    events = Event.objects.filter(person_id__in=person_ids).select_related("channel", "source")
    if event_name:
        events = events.filter(name=event_name)
    return [
        extensions.TimelineEntry(
            at=event.timestamp,
            id=event.pk,
            title=event.name or event.type,
            detail=" · ".join(part.name for part in (event.channel, event.source) if part is not None),
            code=as_json(event.properties) if event.properties else "",
        )
        for event in extensions.timeline_page(events, before, limit, time_field="timestamp")
    ]


def _change_entries(person_ids, before, limit) -> list[extensions.TimelineEntry]:
    changes = AttributeChange.objects.filter(person_id__in=person_ids).select_related("source", "actor")
    return [
        extensions.TimelineEntry(
            at=change.effective_at,
            id=change.pk,
            title=f"{change.key}: {attr_value(change.old_value)} → {attr_value(change.new_value)}",
            detail=change.source.name if change.source else str(change.actor) if change.actor else "system",
        )
        for change in extensions.timeline_page(changes, before, limit, time_field="effective_at")
    ]


def _contact_entries(person_ids, before, limit) -> list[extensions.TimelineEntry]:
    """Contacts: events whose definition *is a contact* (Email Sent ...), and the last-contacted
    records (per channel, and overall) that no such event explains: a contact recorded through the
    API or by an action's delivery. Records get negative ids (after events of the same time)."""
    from people.models import EventDefinition, PersonChannelContact

    names = list(EventDefinition.objects.filter(is_contact=True).values_list("name", flat=True))
    contact_events = Event.objects.filter(person_id__in=person_ids, name__in=names)
    events = extensions.timeline_page(
        contact_events.select_related("channel", "source"), before, limit, time_field="timestamp"
    )
    entries = [
        extensions.TimelineEntry(
            at=event.timestamp,
            id=event.pk,
            title=f"Contacted{f' on {event.channel.name}' if event.channel else ''}: {event.name}",
            detail=event.source.name if event.source else "",
        )
        for event in events
    ]
    records = [
        (contact.last_contacted_at, -contact.pk, contact.channel_id, contact.channel.name)
        for contact in PersonChannelContact.objects.filter(person_id__in=person_ids).select_related("channel")
    ]
    overall = Person.objects.filter(pk__in=person_ids, last_contacted_at__isnull=False)
    records += [(at, -(10**15) - pk, None, "") for pk, at in overall.values_list("pk", "last_contacted_at")]
    explained = (
        set(
            Event.objects.filter(
                person_id__in=person_ids, name__in=names, timestamp__in=[r[0] for r in records]
            ).values_list("timestamp", "channel_id")
        )
        if names and records
        else set()
    )
    on_channels = {at for at, _, channel_id, _ in records if channel_id is not None}
    for at, record_id, channel_id, channel_name in records:
        if channel_id is None:
            if at in on_channels or any(at == when for when, _ in explained):
                continue
        elif (at, channel_id) in explained:
            continue
        if before is not None and (at, record_id) >= (
            before[0],
            before[1] if before[1] is not None else -(10**18),
        ):
            continue
        entries.append(
            extensions.TimelineEntry(
                at=at,
                id=record_id,
                title=f"Last contacted on {channel_name}" if channel_id else "Last contacted",
                detail="the latest contact recorded"
                + (" on this channel" if channel_id else ", without a channel"),
            )
        )
    entries.sort(key=lambda entry: (entry.at, entry.id), reverse=True)
    return entries[:limit]


def timeline_sources(*, event_name: str = "") -> list[extensions.TimelineSource]:
    """Every kind of timeline entry in the order of ties: people's own (events, attribute changes,
    contacts), then those higher apps register (audience entries and exits, action reactions)."""
    own = [
        extensions.TimelineSource(
            "events", "Events", functools.partial(_event_entries, event_name=event_name), "event"
        ),
        extensions.TimelineSource("changes", "Attribute changes", _change_entries, "change"),
        extensions.TimelineSource("contacts", "Contacts", _contact_entries, "contact"),
    ]
    registered = sorted(extensions.timeline_sources.values(), key=lambda s: (s.order, s.kind))
    return own + [s for s in registered if s.kind not in {o.kind for o in own}]


def timeline_kinds() -> list[tuple[str, str]]:
    """``(kind, label)`` of every kind the timeline can show, for its filter."""
    return [(source.kind, source.label) for source in timeline_sources()]


def parse_timeline_cursor(raw: str) -> tuple[datetime, str, int] | None:
    """``"<time>~<kind>~<id>"`` (a page's ``next_before``) → ``(at, kind, id)``; None when it does not
    parse. A bare time reads as "older than that time"."""
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    parts = raw.strip().split(CURSOR_SEPARATOR)
    try:
        at = parse_datetime(parts[0])
    except ValueError:
        return None
    if at is None or len(parts) not in (1, 3) or at.year >= 9999:
        return None
    if timezone.is_naive(at):
        at = timezone.make_aware(at, organization_tz())
    if len(parts) == 1:
        return at, "", 0
    kind, last_id = parts[1], parts[2]
    if not re.fullmatch(r"-?\d{1,19}", last_id):
        return None
    return at, kind, int(last_id)


def person_timeline(
    *,
    person: Person,
    kinds: tuple[str, ...] | None = None,
    event_name: str = "",
    before: str | tuple[datetime, str, int] | None = None,
    limit: int = TIMELINE_PAGE,
) -> dict:
    """One page of a person's timeline, newest first: every kind of entry merged by time.

    The person's entries and those of the profiles merged into it count. ``kinds`` limits the kinds
    shown (all when None); ``event_name`` shows only events of that name. ``before`` pages back: the
    ``next_before`` of the previous page (a cursor on ``(time, kind, id)``, so entries sharing a time
    are neither repeated nor skipped). Each kind costs one indexed query of at most ``limit + 1`` rows,
    however long the history."""
    if isinstance(before, str):
        before = parse_timeline_cursor(before)
    sources = timeline_sources(event_name=event_name)
    rank = {source.kind: i for i, source in enumerate(sources)}
    person_ids = [person.pk, *Person.objects.filter(merged_into=person).values_list("pk", flat=True)]
    items: list[dict] = []
    for source in sources:
        if (kinds is not None and source.kind not in kinds) or (event_name and source.kind != "events"):
            continue
        source_before = None
        if before is not None:
            at, kind, last_id = before
            if kind == source.kind:
                source_before = (at, last_id)
            elif kind in rank and rank[kind] < rank[source.kind]:
                source_before = (at + ONE_MICROSECOND, None)  # ranked after the cursor: its time is due
            else:
                source_before = (at, None)  # ranked before the cursor (or a bare time): shown
        for entry in source.fetch(person_ids, source_before, limit + 1):
            items.append(
                {
                    "kind": source.kind,
                    "badge": source.badge,
                    "rank": rank[source.kind],
                    "at": entry.at,
                    "id": entry.id,
                    "title": entry.title,
                    "detail": entry.detail,
                    "link": entry.link,
                    "code": entry.code,
                }
            )
    items.sort(key=lambda item: (item["rank"], -item["id"]))
    items.sort(key=lambda item: item["at"], reverse=True)  # stable: ties keep (kind, id desc)
    page = items[:limit]
    next_before = None
    if len(items) > limit:
        last = page[-1]
        next_before = CURSOR_SEPARATOR.join((last["at"].isoformat(), last["kind"], str(last["id"])))
    return {"items": page, "next_before": next_before}


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
