"""Erase functions of models whose rows are scrubbed rather than deleted, or that privacy registers
for an app it does not own (Django's admin log)."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from people.models import Person
from privacy.erasure import ErasureContext, delete_in_batches, text_match_querysets
from privacy.models import PrivacyRequest


def scrub_requests(ctx: ErasureContext) -> int:
    with transaction.atomic():
        n = PrivacyRequest.objects.filter(person_id__in=ctx.person_ids).update(
            subject_identities=[], result=None, person_id=None
        )
    ctx.add("privacy.PrivacyRequest", n)
    return n


def admin_log_entries(ctx: ErasureContext) -> int:
    """History rows of the people's profiles, and rows whose text names one of their identifiers."""
    person_type = ContentType.objects.get_for_model(Person)
    ids = [str(pk) for pk in ctx.person_ids]
    n = delete_in_batches(
        LogEntry, LogEntry.objects.filter(Q(content_type=person_type, object_id__in=ids)), ctx
    )
    for queryset in text_match_querysets(LogEntry, ("object_repr", "change_message"), ctx.patterns):
        n += delete_in_batches(LogEntry, queryset, ctx)
    return n


def seen_undefined_examples(ctx: ErasureContext) -> int:
    """Examples of undefined events, properties and traits are samples of someone's data: null those
    of the event names the people sent and those naming one of their identifiers. Runs before the
    events are deleted (it reads their names)."""
    from identity.models import SeenUndefined
    from people.models import Event

    names = set(Event.objects.filter(person_id__in=ctx.person_ids).values_list("name", flat=True).distinct())
    match = Q(kind__in=[SeenUndefined.Kind.EVENT, SeenUndefined.Kind.PROPERTY], event_name__in=names)
    ids = set(SeenUndefined.objects.filter(match).exclude(example=None).values_list("pk", flat=True))
    for queryset in text_match_querysets(SeenUndefined, ("example",), ctx.patterns):
        ids |= set(queryset.values_list("pk", flat=True))
    with transaction.atomic():
        n = SeenUndefined.objects.filter(pk__in=ids).update(example=None)
    ctx.add("identity.SeenUndefined", n)
    return n
