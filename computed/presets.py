"""Presets: sets of definitions created together (the DFINERY purchase statistics)."""

from __future__ import annotations

PURCHASE_PERIODS = (("3m", "3 months", 3), ("6m", "6 months", 6), ("1y", "1 year", 12))
PURCHASE_GROUP = "purchase_statistics"


def purchase_statistics_definitions(
    *, event: str, amount: str, category: str, product: str, prefix: str = "purchase_"
) -> list[dict]:
    """The set's definitions: counts, amounts and averages per period (as of the previous day), most
    purchased weekday and hour, first and last purchase, top 3 categories and products per period."""
    items: list[dict] = []

    def add(key: str, name: str, definition: dict) -> None:
        items.append({"key": f"{prefix}{key}", "name": name, "kind": "aggregate", "definition": definition})

    for suffix, label, months in PURCHASE_PERIODS:
        period = {"type": "full_months", "value": months}
        add(f"count_{suffix}", f"Purchases, {label}", {"function": "count", "event": event, "period": period})
        add(
            f"amount_{suffix}",
            f"Purchase amount, {label}",
            {"function": "sum", "event": event, "property": amount, "period": period},
        )
        add(
            f"average_{suffix}",
            f"Average purchase amount, {label}",
            {"function": "average", "event": event, "property": amount, "period": period},
        )
    before_today = {"type": "before_today"}  # as of the previous day
    for key, name, function, prop in (
        ("top_weekday", "Most purchased weekday", "most_common", "$weekday"),
        ("top_hour", "Most purchased hour", "most_common", "$hour"),
        ("first_at", "First purchase", "min", "$timestamp"),
        ("last_at", "Last purchase", "max", "$timestamp"),
    ):
        add(key, name, {"function": function, "event": event, "property": prop, "period": before_today})
    for prop, prop_key, prop_label in ((category, "category", "category"), (product, "product", "product")):
        for suffix, label, months in PURCHASE_PERIODS:
            for rank in (1, 2, 3):
                add(
                    f"top_{prop_key}_{rank}_{suffix}",
                    f"Top {prop_label} #{rank}, {label}",
                    {
                        "function": "top",
                        "event": event,
                        "property": prop,
                        "rank": rank,
                        "amount_property": amount,
                        "period": {"type": "full_months", "value": months},
                    },
                )
    return items
