"""A realistic small dataset a newcomer can click through.

Channels web/app/email, sources, event definitions with schemas, custom attributes, a few hundred
people with attributes and events over the last months, contacts. Then each higher app's demo hook
(``ATTUNE_DEMO_HOOKS``) adds its part (identities, computed attributes ...). Deterministic (seeded).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from people.models import (
    AttributeType,
    Channel,
    ContextDefinition,
    ContextPropertyDefinition,
    Event,
    EventDefinition,
    EventPropertyDefinition,
    Person,
)
from people.services import (
    AttributeWrite,
    attribute_definition_create,
    channel_create,
    contact_record,
    person_write_attributes,
    source_create,
)

FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Guido",
    "Frances",
    "Edsger",
    "Sophie",
    "Tim",
    "Hedy",
    "Yukihiro",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Rossum",
    "Allen",
    "Dijkstra",
    "Wilson",
    "Lee",
]
CITIES = [
    ("Berlin", "DE"),
    ("London", "GB"),
    ("Paris", "FR"),
    ("Seoul", "KR"),
    ("Austin", "US"),
    ("Lisbon", "PT"),
]
CATEGORIES = ["shoes", "shirts", "bags", "hats", "books"]
PRODUCTS = [f"SKU-{n:03d}" for n in range(1, 31)]


class Command(BaseCommand):
    help = "Load demo data (only into an empty database unless --force)."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--force", action="store_true", help="Load even if people exist.")

    def handle(self, *args, people: int, seed: int, force: bool, **options):
        if Person.objects.exists() and not force:
            raise CommandError("The database already has people; use --force to add demo data anyway.")
        rng = random.Random(seed)
        with transaction.atomic():
            self._load(rng, people)
        for path in getattr(settings, "ATTUNE_DEMO_HOOKS", []):
            import_string(path)(self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {people} people."))

    def _load(self, rng: random.Random, count: int) -> None:
        now = timezone.now()
        web = Channel.objects.filter(key="web").first() or channel_create(key="web", name="Web")
        app = Channel.objects.filter(key="app").first() or channel_create(key="app", name="Mobile app")
        email = Channel.objects.filter(key="email").first() or channel_create(key="email", name="Email")
        channels = {"web": web, "app": app, "email": email}
        sources = {
            "web": source_create(name="Website", channel=web).source,
            "app": source_create(name="iOS app", channel=app).source,
            "email": source_create(name="Email service", channel=email).source,
        }
        for key, label, type_ in [
            ("plan", "Plan", AttributeType.TEXT),
            ("lifetime_value", "Lifetime value", AttributeType.DECIMAL),
            ("newsletter_opt_in", "Newsletter opt-in", AttributeType.BOOLEAN),
            ("emails_sent", "Emails sent", AttributeType.INTEGER),
            ("email_link_clicks", "Email link clicks", AttributeType.INTEGER),
            ("signup_date", "Signup date", AttributeType.DATE),
        ]:
            attribute_definition_create(key=key, label=label, type=type_)
        attribute_definition_create(
            key="favourite_products",
            label="Favourite products",
            type=AttributeType.LIST,
            item_schema=[{"key": "sku", "type": "text"}, {"key": "added", "type": "date"}],
        )
        definitions = {
            "Page Viewed": [("path", "text", True, r"^/"), ("title", "text", False, "")],
            "Product Added": [
                ("product", "text", True, ""),
                ("category", "text", False, ""),
                ("price", "decimal", True, ""),
            ],
            "Order Completed": [
                ("order_id", "text", True, ""),
                ("amount", "decimal", True, ""),
                ("category", "text", False, ""),
                ("product", "text", False, ""),
            ],
            "Email Sent": [("campaign", "text", True, "")],
            "Email Opened": [("campaign", "text", True, "")],
            "Email Link Clicked": [("campaign", "text", True, ""), ("url", "text", False, r"^https?://")],
        }
        for name, props in definitions.items():
            definition = EventDefinition.objects.create(
                name=name, description=f"Demo: {name.lower()}.", is_contact=name == "Email Sent"
            )
            EventPropertyDefinition.objects.bulk_create(
                EventPropertyDefinition(definition=definition, key=k, type=t, required=r, regex=rx)
                for k, t, r, rx in props
            )
        context = ContextDefinition.objects.create(channel=app, description="What the iOS app sends.")
        ContextPropertyDefinition.objects.bulk_create(
            [
                ContextPropertyDefinition(definition=context, key="device.model", type="text"),
                ContextPropertyDefinition(definition=context, key="os.version", type="text", required=True),
            ]
        )

        people = []
        for i in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, country = rng.choice(CITIES)
            created = now - timedelta(days=rng.randint(1, 180), minutes=rng.randint(0, 1440))
            people.append(
                Person(
                    kind=Person.Kind.COMPANY if i % 50 == 0 else Person.Kind.PERSON,
                    created_at=created,
                    first_seen_at=created,
                    modified_at=created,
                )
            )
        Person.objects.bulk_create(people)
        people = list(Person.objects.order_by("pk"))
        events: list[Event] = []
        for i, person in enumerate(people):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, country = rng.choice(CITIES)
            source = sources[rng.choice(["web", "app"])]
            writes = [
                AttributeWrite("first_name", first),
                AttributeWrite("last_name", last),
                AttributeWrite("email", f"{first}.{last}.{i}@example.com".lower()),
                AttributeWrite("city", city),
                AttributeWrite("country", country),
                AttributeWrite("plan", rng.choice(["free", "free", "pro", "enterprise"])),
                AttributeWrite("newsletter_opt_in", rng.random() < 0.6),
                AttributeWrite("signup_date", person.created_at.date().isoformat()),
            ]
            if rng.random() < 0.7:
                writes.append(AttributeWrite("phone", f"+4915{rng.randint(10000000, 99999999)}"))
                writes.append(AttributeWrite("gender", rng.choice(["female", "male", "other"])))
                birth = date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28))
                writes.append(AttributeWrite("birth_date", birth.isoformat()))
                writes.append(AttributeWrite("membership_level", rng.choice(["bronze", "silver", "gold"])))
            person_write_attributes(
                person=person, writes=writes, source=source, at=person.created_at, notify=False
            )
            # Power-law-ish activity: most people a few events, some many.
            n_events = min(120, int(rng.paretovariate(1.3) * 3))
            t = person.created_at
            sessions = 0
            first_index = len(events)
            for _ in range(n_events):
                gap = timedelta(minutes=rng.choice([2, 5, 10, 45, 600, 3000, 10080]))
                if gap > timedelta(minutes=30):
                    sessions += 1
                t = t + gap
                if t >= now:
                    break
                name = rng.choices(
                    ["Page Viewed", "Product Added", "Order Completed", "Email Opened", "Email Link Clicked"],
                    weights=[60, 15, 6, 12, 7],
                )[0]
                channel_key = "email" if name.startswith("Email") else source.channel.key
                product = rng.choice(PRODUCTS)
                properties = {
                    "Page Viewed": {"path": rng.choice(["/", "/pricing", "/shop", "/blog"]), "title": "Demo"},
                    "Product Added": {"product": product, "category": rng.choice(CATEGORIES), "price": 25.0},
                    "Order Completed": {
                        "order_id": f"o-{i}-{len(events)}",
                        "amount": round(rng.uniform(10, 300), 2),
                        "category": rng.choice(CATEGORIES),
                        "product": product,
                    },
                    "Email Opened": {"campaign": rng.choice(["welcome", "spring-sale"])},
                    "Email Link Clicked": {"campaign": "spring-sale", "url": "https://example.com/sale"},
                }[name]
                device_context = (
                    {
                        "device": {"manufacturer": "Apple", "model": "iPhone15,2", "type": "ios"},
                        "os": {"name": "iOS", "version": "18.1"},
                        "locale": "en-US",
                        "timezone": "Europe/Berlin",
                        "location": {"country": country, "city": city},
                    }
                    if channel_key == "app"
                    else {
                        "userAgent": "Mozilla/5.0 (Macintosh) Chrome/130",
                        "browser": {"name": "Chrome", "version": "130"},
                        "locale": "en-GB",
                        "location": {"country": country, "city": city},
                    }
                )
                events.append(
                    Event(
                        person=person,
                        name=name,
                        type="track",
                        channel=channels[channel_key],
                        source=sources[channel_key],
                        timestamp=t,
                        original_timestamp=t,
                        received_at=t,
                        properties=properties,
                        context=device_context,
                        message_id=f"demo-{person.pk}-{len(events)}",
                    )
                )
            person_events = events[first_index:]
            Person.objects.filter(pk=person.pk).update(
                event_count=len(person_events),
                session_count=sessions + (1 if person_events else 0),
                last_activity_at=person_events[-1].timestamp if person_events else None,
            )
            if rng.random() < 0.5:
                sent = now - timedelta(hours=rng.randint(1, 24 * 60))
                events.append(
                    Event(
                        person=person,
                        name="Email Sent",
                        type="track",
                        channel=email,
                        source=sources["email"],
                        timestamp=sent,
                        received_at=sent,
                        properties={"campaign": "spring-sale"},
                        message_id=f"demo-sent-{person.pk}",
                    )
                )
                contact_record(person=person, channel=email, at=sent)
        Event.objects.bulk_create(events, batch_size=2000)
