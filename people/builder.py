"""What the visual condition builder may offer: attributes, events with their properties, operators
per type, windows, last-contacted operators and channels (``GET /admin/conditions/metadata/``)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, JsonResponse

from people.conditions.attributes import all_attributes
from people.conditions.checker import COUNT_OPS, UNITS, WINDOW_TYPES
from people.conditions.operators import OPERATORS
from people.lastcontacted import ContactOperator
from people.models import AttributeDefinition, Channel, Event, EventDefinition

LABELS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "in": "is one of",
    "not_in": "is none of",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "between": "between",
    "on": "on",
    "before": "before",
    "after": "after",
    "within_last_days": "within the last (days)",
    "more_than_days_ago": "more than (days) ago",
    "eq": "=",
    "any": "any item",
    "all": "every item",
    "none": "no item",
    "count": "number of items",
}


def metadata() -> dict:
    list_fields = {d.key: d.item_schema for d in AttributeDefinition.objects.filter(type="list")}
    attributes = [
        {
            "key": ref.key,
            "label": ref.label,
            "type": ref.value_type,
            "kind": ref.kind,
            **({"fields": list_fields.get(ref.key, [])} if ref.value_type == "list" else {}),
        }
        for ref in sorted(all_attributes(), key=lambda r: (r.kind != "standard", r.kind, r.label.lower()))
    ]
    events: dict[str, dict] = {}
    for definition in EventDefinition.objects.prefetch_related("properties").order_by("name"):
        events[definition.name] = {
            "name": definition.name,
            "properties": [{"key": p.key, "type": _value_type(p.type)} for p in definition.properties.all()],
        }
    # Events seen but not defined (recent names; the index on name keeps this cheap).
    for name in Event.objects.order_by().values_list("name", flat=True).distinct()[:200]:
        events.setdefault(name, {"name": name, "properties": []})
    return {
        "attributes": attributes,
        "events": sorted(events.values(), key=lambda e: e["name"].lower()),
        "operators": {t: list(ops) for t, ops in OPERATORS.items()},
        "labels": LABELS,
        "count_ops": list(COUNT_OPS),
        "window_types": list(WINDOW_TYPES),
        "units": list(UNITS),
        "contact_ops": [o.value for o in ContactOperator],
        "channels": [{"key": c.key, "name": c.name} for c in Channel.objects.order_by("name")],
    }


def _value_type(attribute_type: str) -> str:
    return {"decimal": "number", "integer": "number"}.get(attribute_type, attribute_type)


@staff_member_required
def condition_metadata(request: HttpRequest) -> JsonResponse:
    return JsonResponse(metadata())
