"""Demo actions (``manage.py load_demo`` runs ``load`` after the other apps' demo data): a personalized
banner, a capped coupon with a webhook, a staging survey with a test user, two competing hero actions
with adaptive allocation, and two weeks of reactions so the analysis has something to show.
Safe to run twice (it does nothing when demo actions exist)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from actions import services
from actions.models import Action, Reaction, WebhookDelivery
from people.models import Channel, Person


def load(stdout=None) -> None:
    if Action.objects.filter(name="Welcome banner").exists():
        return
    channels = list(Channel.objects.values_list("key", flat=True))
    if not channels:
        return
    web = "web" if "web" in channels else channels[0]
    people = list(Person.objects.filter(merged_into__isnull=True).order_by("pk")[:200])
    banner = services.action_create(
        name="Welcome banner",
        type="banner",
        tags=["home"],
        state="active",
        channels=channels,
        trait_conditions={"attribute": "first_name", "op": "is_not_empty"},
        context_conditions=[
            {"channel": web, "key": "page.path", "type": "text", "op": "starts_with", "value": "/"}
        ],
        properties=[
            {"name": "title", "kind": "template", "value": "Welcome back, {{first_name|friend}}!"},
            {
                "name": "title",
                "channel": web,
                "kind": "template",
                "value": "Hi {{first_name|there}}, new arrivals await",
            },
            {"name": "cta", "kind": "text", "value": "Shop now"},
            {
                "name": "city",
                "kind": "trait",
                "attribute": "city",
                "value_type": "string",
                "fallback": "your city",
            },
        ],
        capping_rules=[{"reaction": "declined", "group": "user", "count": 1, "within_days": 30}],
    )
    coupon = services.action_create(
        name="500 summer coupons",
        type="coupon",
        tags=["checkout"],
        state="active",
        channels=[web],
        properties=[{"name": "text", "kind": "text", "value": "10% off today"}],
        capping_rules=[
            {"reaction": "accepted", "group": "all", "count": 500},
            {"reaction": "accepted", "group": "user", "count": 1},
        ],
        hooks=[
            {
                "reaction": "accepted",
                "kind": "webhook",
                "url": "https://coupons.example.com/redeem",
                "extra": {"campaign": "summer"},
            },
            {"reaction": "declined", "kind": "track_event", "event_name": "Coupon Declined"},
        ],
    )
    survey = services.action_create(
        name="NPS survey (testing)",
        type="survey",
        state="staging",
        channels=channels,
        properties=[{"name": "question", "kind": "text", "value": "How likely are you to recommend us?"}],
        test_users=[{"person": people[0], "skip_targeting": True}] if people else [],
    )
    hero_a, hero_b = (
        services.action_create(
            name=name,
            type="hero",
            state="active",
            channels=[web],
            slot="home-hero",
            allocation=True,
            properties=[{"name": "headline", "kind": "text", "value": headline}],
        )
        for name, headline in [
            ("Hero: free shipping", "Free shipping on everything"),
            ("Hero: new collection", "The new collection is here"),
        ]
    )
    rng = random.Random(42)  # noqa: S311 - demo data
    now = timezone.now()
    rows = []
    funnel = {banner: (0.6, 0.2), coupon: (0.7, 0.3), hero_a: (0.5, 0.05), hero_b: (0.5, 0.15)}
    for person in people:
        for action, (show, accept) in funnel.items():
            if rng.random() < 0.3:
                continue
            at = now - timedelta(days=rng.randint(0, 13), hours=rng.randint(0, 23))
            channel = web if rng.random() < 0.8 or action in (coupon, hero_a, hero_b) else channels[-1]
            rows.append(
                Reaction(action=action, person=person, channel=channel, kind="delivered", created_at=at)
            )
            if rng.random() < show:
                rows.append(
                    Reaction(action=action, person=person, channel=channel, kind="shown", created_at=at)
                )
                kind = (
                    "accepted" if rng.random() < accept / show else rng.choice(["hidden", "declined", None])
                )
                if kind:
                    rows.append(
                        Reaction(
                            action=action,
                            person=person,
                            channel=channel,
                            kind=kind,
                            created_at=at + timedelta(minutes=2),
                        )
                    )
    Reaction.objects.bulk_create(rows)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                action=coupon,
                event="accepted",
                url="https://coupons.example.com/redeem",
                body='{"event":"accepted"}',
                status=status,
                attempts=attempts,
                response_code=code,
                latency_ms=latency,
                response_excerpt=excerpt,
            )
            for status, attempts, code, latency, excerpt in [
                ("succeeded", 1, 200, 84, '{"code": "SUMMER-4821"}'),
                ("succeeded", 3, 200, 120, '{"code": "SUMMER-4822"}'),
                ("retrying", 2, 503, 31, "Service Unavailable"),
                ("failed", 6, 500, 45, "Internal Server Error"),
            ]
        ]
    )
    del survey
    if stdout:
        stdout.write(f"actions: 5 demo actions, {len(rows)} reactions\n")
