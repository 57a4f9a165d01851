"""Demo audiences (``manage.py load_demo`` runs ``load`` after the computed attributes): a rules
audience, one using it, an abandoned-cart funnel and a draft duplicate showing its impact.
Safe to run twice."""

from __future__ import annotations

from audiences import services
from audiences.models import Audience

AUDIENCES = [
    (
        "recent_buyers",
        "Recent buyers",
        "rules",
        {
            "condition": {
                "event": "Order Completed",
                "window": {"type": "within", "value": 90, "unit": "days"},
            }
        },
    ),
    (
        "engaged_recent_buyers",
        "Engaged recent buyers",
        "rules",
        {
            "condition": {
                "and": [
                    {"attribute": "audience:recent_buyers", "op": "equals", "value": True},
                    {"event": "Email Opened", "count": {"op": "gte", "value": 2}},
                ]
            }
        },
    ),
    (
        "abandoned_cart",
        "Abandoned cart",
        "funnel",
        {
            "steps": [
                {"event": "Product Added"},
                {"event": "Order Completed", "did_not": True, "within": {"value": 1, "unit": "hours"}},
            ]
        },
    ),
]


def load(stdout=None) -> None:
    for key, name, audience_type, definition in AUDIENCES:
        audience = Audience.objects.filter(key=key).first()
        if audience is None:
            audience = services.audience_create(
                key=key, name=name, audience_type=audience_type, definition=definition
            )
        if audience.state == Audience.State.DRAFT:
            services.activate(audience)
    base = Audience.objects.get(key="recent_buyers")
    if not base.duplicates.exists():
        copy = services.audience_duplicate(
            audience=base, key="buyers_last_30_days", name="Buyers, last 30 days"
        )
        services.audience_update(
            audience=copy,
            definition={
                "condition": {
                    "event": "Order Completed",
                    "window": {"type": "within", "value": 30, "unit": "days"},
                }
            },
        )
    if stdout is not None:
        stdout.write(f"audiences: {Audience.objects.filter(state='active').count()} active audiences\n")
