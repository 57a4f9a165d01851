"""Chainable query vocabulary for people and events."""

from __future__ import annotations

from datetime import datetime

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from people.lastcontacted import ContactOperator, contact_q


class PersonQuerySet(models.QuerySet):
    def live(self) -> PersonQuerySet:
        """Profiles that have not been merged into another one."""
        return self.filter(merged_into__isnull=True)

    def last_contacted(
        self,
        op: ContactOperator | str,
        value=None,
        *,
        channel_id: int | None = None,
        now: datetime | None = None,
    ) -> PersonQuerySet:
        """Filter by last contacted, overall or on one channel (see people.lastcontacted)."""
        now = now or timezone.now()
        # Models by name: people.models imports this module.
        tz = apps.get_model("people", "OrganizationSettings").objects.get_current().zone
        if channel_id is None:
            return self.filter(contact_q("last_contacted_at", op, value, now=now, tz=tz))
        contact_model = self.model._meta.get_field("channel_contacts").related_model
        contacts = contact_model.objects.filter(person=OuterRef("pk"), channel_id=channel_id)
        if ContactOperator(op) is ContactOperator.UNKNOWN:
            return self.filter(~Exists(contacts))
        return self.filter(Exists(contacts.filter(contact_q("last_contacted_at", op, value, now=now, tz=tz))))


class EventQuerySet(models.QuerySet):
    def for_person(self, person_id: int) -> EventQuerySet:
        return self.filter(person_id=person_id)

    def between(self, start: datetime | None = None, end: datetime | None = None) -> EventQuerySet:
        qs = self
        if start is not None:
            qs = qs.filter(timestamp__gte=start)
        if end is not None:
            qs = qs.filter(timestamp__lt=end)
        return qs
