"""Demo data of the identity app (``manage.py load_demo`` calls ``load`` after people's data).

Every demo person gets a user id, their email and phone as identifiers and one or two anonymous
ids; then a few anonymous visitors browse and log in, which merges them into the known profiles.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from identity.merging import person_merge
from identity.models import Identity, Merge
from identity.policy import Policy
from people.models import Event, Person, Source

VISITORS = 5


def load(stdout) -> None:
    policy = Policy.load()
    source = Source.objects.select_related("channel").order_by("pk").first()
    channel_id = source.channel_id if source else None
    now = timezone.now()
    with transaction.atomic():
        people = list(Person.objects.live().filter(identities__isnull=True).order_by("pk"))
        rows = []
        for person in people:
            seen = person.created_at
            values = [("user_id", f"user-{person.pk}")]
            if person.email:
                values.append(("email", person.email))
            if person.phone:
                values.append(("phone", person.phone))
            values += [("anonymous_id", f"anon-{person.pk}-{n}") for n in range(1 + person.pk % 2)]
            if person.kind == Person.Kind.COMPANY:
                values = [("group_id", f"company-{person.pk}")]
            for key, value in values:
                type_policy = policy.get(key)
                rows.append(
                    Identity(
                        type_id=type_policy.id,
                        value=value,
                        person=person,
                        channel_id=channel_id,
                        source=source,
                        anonymous=type_policy.anonymous,
                        first_seen_at=seen,
                        last_seen_at=person.last_activity_at or seen,
                    )
                )
        Identity.objects.bulk_create(rows, ignore_conflicts=True)

        merges = 0
        known = [p for p in people if p.kind == Person.Kind.PERSON][:VISITORS]
        anonymous = policy.get("anonymous_id")
        for index, person in enumerate(known):
            visitor = Person.objects.create(
                created_at=now - timedelta(days=1), first_seen_at=now - timedelta(days=1)
            )
            Identity.objects.create(
                type_id=anonymous.id,
                value=f"visitor-{person.pk}",
                person=visitor,
                channel_id=channel_id,
                source=source,
                anonymous=True,
            )
            Event.objects.create(
                person=visitor,
                type="page",
                name="Pricing",
                channel_id=channel_id,
                source=source,
                timestamp=now - timedelta(hours=20 + index),
                properties={"path": "/pricing"},
                message_id=f"demo-visitor-{person.pk}",
            )
            Person.objects.filter(pk=visitor.pk).update(event_count=1, session_count=1)
            person_merge(
                parent=person, child=visitor, reason=Merge.Reason.RESOLUTION, source=source, notify=False
            )
            merges += 1
    stdout.write(f"Identity demo: {len(rows)} identifiers for {len(people)} profiles, {merges} merges.")
