"""Demo computed attributes (``manage.py load_demo`` runs ``load`` after people's demo data).

Creates and activates: event aggregates, a formula over them, a scoring model and the purchase
statistics set over "Order Completed" (amount, category, product). Safe to run twice.
"""

from __future__ import annotations

from computed import presets, services
from computed.models import ComputedAttribute

AGGREGATES = [
    ("orders_lifetime", "Orders (lifetime)", {"function": "count", "event": "Order Completed"}),
    (
        "revenue_lifetime",
        "Revenue (lifetime)",
        {"function": "sum", "event": "Order Completed", "property": "amount"},
    ),
    (
        "orders_30d",
        "Orders, last 30 days",
        {"function": "count", "event": "Order Completed", "period": {"type": "full_days", "value": 30}},
    ),
    (
        "repeat_orders",
        "Repeat orders",
        {"function": "count", "event": "Order Completed", "exclude": "first"},
    ),
    (
        "favourite_category",
        "Favourite category",
        {"function": "most_common", "event": "Order Completed", "property": "category"},
    ),
    ("last_seen_page", "Last page viewed", {"function": "last", "event": "Page Viewed", "property": "url"}),
]
FORMULAS = [
    ("average_order_value", "Average order value", "round(revenue_lifetime / orders_lifetime, 2)"),
]
SCORE_RULES = [
    {
        "label": "Repeat buyer",
        "condition": {"attribute": "repeat_orders", "op": "gte", "value": 1},
        "points": 20,
    },
    {
        "label": "Bought lately",
        "condition": {"event": "Order Completed", "window": {"type": "within", "value": 30, "unit": "days"}},
        "points": 15,
    },
    {
        "label": "Browsing",
        "condition": {
            "event": "Page Viewed",
            "count": {"op": "gte", "value": 3},
            "window": {"type": "within", "value": 7, "unit": "days"},
        },
        "points": 5,
    },
    {"label": "Never contacted", "condition": {"last_contacted": {"op": "unknown"}}, "points": -5},
]


def _ensure(key: str, name: str, kind: str, definition) -> ComputedAttribute:
    existing = ComputedAttribute.objects.filter(key=key).first()
    if existing is not None:
        return existing
    return services.computed_attribute_create(key=key, name=name, kind=kind, definition=definition)


def load(stdout) -> None:
    aggregates = [_ensure(key, name, "aggregate", d) for key, name, d in AGGREGATES]
    if not ComputedAttribute.objects.filter(group=presets.PURCHASE_GROUP).exists():
        aggregates += services.purchase_statistics_create()
    else:
        aggregates += list(ComputedAttribute.objects.filter(group=presets.PURCHASE_GROUP))
    pending = [a for a in aggregates if a.state == ComputedAttribute.State.DRAFT]
    if pending:
        services.activate_many(pending)
    later = [_ensure(key, name, "formula", {"formula": text}) for key, name, text in FORMULAS]
    later.append(_ensure("engagement_score", "Engagement score", "score", {"rules": SCORE_RULES}))
    pending = [a for a in later if a.state == ComputedAttribute.State.DRAFT]
    if pending:
        services.activate_many(pending)
    active = ComputedAttribute.objects.filter(state=ComputedAttribute.State.ACTIVE).count()
    stdout.write(f"computed: {active} active computed attributes\n")
