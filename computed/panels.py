"""The computed app's sections of the Person 360 page and its dashboard number."""

from __future__ import annotations

from people.extensions import person_panel

SHOWN_EVENTS = 10
OPS = {
    "eq": "is",
    "ne": "is not",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "unknown": "is unknown",
    "known": "is known",
}


@person_panel(
    "computed", title="Computed attributes", template="computed/panels/computed_values.html", order=20
)
def computed_values_context(person, request) -> dict:
    """The values only: each "why" is a live re-evaluation (a few queries), fetched when it is opened
    (``ComputedAttributeAdmin.why_view``), so the page load explains nothing."""
    from django.urls import reverse

    from computed.selectors import person_computed_rows

    rows = person_computed_rows(person_id=person.pk, exclude_group="purchase_statistics")
    return {
        "computed_rows": rows,
        "person_id": person.pk,
        "why_url": reverse("admin:computed_computedattribute_why"),
    }


def why_of(person, attribute_pk: int) -> dict | None:
    """One shown attribute's row of the 360 page with its ``why``; None when it is not shown."""
    from computed.selectors import person_values

    row = next((r for r in person_values(person_id=person.pk).values() if r["pk"] == attribute_pk), None)
    if row is not None:
        add_why(person, [row])
    return row


def shown(value) -> str:
    """A value as people read it: "empty", yes/no, numbers and texts as they are (no Python repr)."""
    if value is None or value == "":
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {shown(v)}" for k, v in value.items()) or "none"
    return str(value)


def add_why(person, rows: list[dict]) -> None:
    """Give each row a ``why``: the explanation of ``run_profile_test`` turned into readable lines
    (a formula's inputs, an aggregate's period and matching events, a score's rules)."""
    from django.core.exceptions import ValidationError

    from computed.models import ComputedAttribute
    from computed.selectors import run_profile_test
    from people.models import Event

    definitions = dict(
        ComputedAttribute.objects.filter(pk__in=[row["pk"] for row in rows]).values_list("pk", "definition")
    )
    explained = {}
    event_ids: set[int] = set()
    for row in rows:
        try:
            result = run_profile_test(kind=row["kind"], definition=definitions.get(row["pk"]), person=person)
        except (ValidationError, ValueError, TypeError) as exc:
            row["why"] = {"error": f"Cannot be explained: {exc}"}
            continue
        explained[row["key"]] = result
        event_ids.update(result["explanation"].get("matched_event_ids", [])[:SHOWN_EVENTS])
    events = {
        e.pk: e for e in Event.objects.filter(pk__in=event_ids).only("pk", "name", "timestamp", "properties")
    }
    for row in rows:
        if row["key"] in explained:
            row["why"] = _why(explained[row["key"]], definitions.get(row["pk"]) or {}, events)


def _why(result: dict, definition: dict, events: dict) -> dict:
    why = result["explanation"]
    kind = why.get("kind")
    out = {"kind": kind, "now": shown(result["value"]), "lines": [], "events": [], "rules": []}
    if kind == "formula":
        out["summary"] = f"Formula {definition.get('formula', '')}".strip()
        out["lines"] = [f"{key} = {shown(value)}" for key, value in why.get("inputs", {}).items()]
        if why.get("empty_inputs"):
            out["lines"].append("Empty inputs: " + ", ".join(why["empty_inputs"]))
        if why.get("out_of_range"):
            out["lines"].append(f"Out of range: {shown(why['out_of_range'])}")
    elif kind == "aggregate":
        period = why.get("period", {})
        prop = definition.get("property")
        prop = ".".join(prop) if isinstance(prop, list) else prop
        what = (
            f"{why['function'].replace('_', ' ')} of {prop + ' of ' if prop else ''}{why['event']!s} events"
        )
        out["summary"] = what[0].upper() + what[1:]
        out["lines"] = [
            f"Period: {_when(period.get('from')) or 'the beginning'} – {_when(period.get('until')) or 'now'}",
            f"{why['matched_events']} of {why['events_of_that_name']} {why['event']} events matched",
        ]
        for pk in why.get("matched_event_ids", [])[:SHOWN_EVENTS]:
            event = events.get(pk)
            if event is not None:
                props = event.properties if isinstance(event.properties, dict) else {}
                picked = {prop: props.get(prop)} if prop and not str(prop).startswith("$") else props
                out["events"].append(
                    {
                        "pk": pk,
                        "name": event.name,
                        "at": event.timestamp,
                        "properties": shown(dict(list(picked.items())[:4])) if picked else "",
                    }
                )
        if why["matched_events"] > len(out["events"]):
            out["lines"].append(f"The first {len(out['events'])} matching events are listed.")
    elif kind == "score":
        out["summary"] = "Score: the points of every rule that matched"
        for rule in why.get("rules", []):
            out["rules"].append(
                {
                    "label": rule.get("label") or "Rule",
                    "points": rule.get("points"),
                    "matched": rule.get("matched"),
                    "steps": [_step(step) for step in rule.get("steps", [])],
                }
            )
    return out


def _when(value) -> str:
    if not value:
        return ""
    from datetime import datetime

    from people.selectors import organization_tz

    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(organization_tz())
    return moment.strftime("%-d %b %Y %H:%M")


def _step(step: dict) -> str:
    """One leaf of a rule's condition: what it read and whether it matched."""
    mark = "✓" if step.get("matched") else "✗"
    kind = step.get("kind")
    op = OPS.get(step.get("op"), str(step.get("op", "")).replace("_", " "))
    if kind == "attribute":
        return (
            f"{mark} {step['attribute']} {op} {shown(step.get('value'))} (it is {shown(step.get('actual'))})"
        )
    if kind == "event":
        count_op = str(OPS.get(step.get("count_op"), step.get("count_op"))).removeprefix("is ")
        return f"{mark} {step['event']}: {step['count']} events, needs {count_op} {step.get('count_value')}"
    if kind == "list":
        return f"{mark} {step['attribute']}: {step['items']} items, {op} must match"
    if kind == "last_contacted":
        where = f" on {step['channel']}" if step.get("channel") else ""
        actual = shown(step.get("actual"))
        value = "" if step.get("value") is None else f" {shown(step.get('value'))}"
        return f"{mark} last contacted{where} {op}{value} (it was {actual})"
    return f"{mark} {shown({k: v for k, v in step.items() if k != 'matched'})}"


@person_panel(
    "purchase_statistics",
    title="Purchase statistics",
    template="computed/panels/purchase_statistics.html",
    order=21,
)
def purchase_statistics_context(person, request) -> dict:
    from computed.selectors import person_purchase_statistics

    return {"purchase_statistics": person_purchase_statistics(person_id=person.pk)}


def key_in_use(key: str) -> bool:
    from computed.models import ComputedAttribute

    return ComputedAttribute.objects.filter(key=key).exists()
