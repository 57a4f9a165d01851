"""Reads of the actions app: simulation, analysis, reactions and deliveries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone

from actions import allocation, targeting
from actions.models import Action, Reaction, ReactionKind, WebhookDelivery
from people.models import Person

RESOLUTIONS = ("hour", "day", "week")
FUNNEL = (ReactionKind.DELIVERED, ReactionKind.SHOWN, ReactionKind.ACCEPTED)
MAX_BUCKETS = 2000
# A webhook delivery's state and last attempt: the columns of the delivery log (admin and API).
DELIVERY_LOG_FIELDS = (
    "synchronous",
    "status",
    "attempts",
    "response_code",
    "latency_ms",
    "response_excerpt",
    "error",
    "created_at",
    "last_attempt_at",
    "next_attempt_at",
)


def simulate(
    *,
    action: Action,
    person: Person,
    channel: str,
    type: str | None = None,
    tags: tuple[str, ...] = (),
    context: dict | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Would ``person`` get ``action`` on ``channel``, and why not: the ordered steps (nothing is
    recorded). Uses the same evaluation as the client API."""
    compiled = targeting.compile_action(action)
    ask = targeting.Ask(
        channel=channel, type=type, tags=tuple(tags), context=context or {}, now=now or timezone.now()
    )
    steps = targeting.evaluate(compiled, targeting.PersonView(person), ask)
    gets = targeting.passed(steps)
    properties = None
    if gets:
        props = compiled.properties_for(channel)
        properties = targeting.render_properties(
            props, targeting.PersonView(person).values(targeting.property_keys(props))
        )
    return {"gets_action": gets, "steps": [s.as_dict() for s in steps], "properties": properties}


def _range(start: date, end: date, tz) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time(0), tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz),
    )


def analysis(*, action: Action, start: date, end: date, resolution: str = "day") -> dict[str, Any]:
    """Counts per reaction, rates between consecutive reactions, reach per channel, unique people
    and a time series in ``resolution`` buckets, for ``start``–``end`` (dates in the organization's
    timezone, end inclusive)."""
    from people.selectors import organization_tz

    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    if end < start:
        raise ValueError("the end date is before the start date")
    tz = organization_tz()
    since, until = _range(start, end, tz)
    span_hours = (until - since).total_seconds() / 3600
    per_bucket = {"hour": 1, "day": 24, "week": 24 * 7}[resolution]
    if span_hours / per_bucket > MAX_BUCKETS:
        raise ValueError(f"too many {resolution} buckets; choose a shorter range or a coarser resolution")
    rows = Reaction.objects.filter(action=action, created_at__gte=since, created_at__lt=until)
    kinds = ReactionKind.values
    counts = {k: 0 for k in kinds}
    people = {k: 0 for k in kinds}
    for row in rows.values("kind").annotate(n=Count("pk"), people=Count("person_id", distinct=True)):
        counts[row["kind"]] = row["n"]
        people[row["kind"]] = row["people"]
    unique = rows.aggregate(n=Count("person_id", distinct=True))["n"]
    reach: dict[str, dict[str, int]] = {}
    for row in rows.values("channel", "kind").annotate(n=Count("pk")).order_by("channel"):
        reach.setdefault(row["channel"], {k: 0 for k in kinds})[row["kind"]] = row["n"]
    series: dict[datetime, dict[str, int]] = {}
    bucketed = (
        rows.annotate(bucket=Trunc("created_at", resolution, tzinfo=tz))
        .values("bucket", "kind")
        .annotate(n=Count("pk"))
        .order_by("bucket")
    )
    for row in bucketed:
        series.setdefault(row["bucket"], {k: 0 for k in kinds})[row["kind"]] = row["n"]
    rates = []
    for before, after in zip(FUNNEL, FUNNEL[1:], strict=False):
        rates.append(
            {
                "from": before,
                "to": after,
                "rate": round(counts[after] / counts[before], 4) if counts[before] else None,
            }
        )
    return {
        "action": action.pk,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "resolution": resolution,
        "timezone": tz.key,
        "counts": counts,
        "unique_people": {"total": unique, **people},
        "rates": rates,
        "reach": reach,
        "series": [
            {"bucket": bucket.astimezone(tz).isoformat(), **values} for bucket, values in series.items()
        ],
        "allocation": allocation_report(action=action, since=since, until=until),
    }


def allocation_report(*, action: Action, since: datetime, until: datetime) -> list[dict]:
    """For an action in a slot: each competing action's posterior mean and share of the slot's
    deliveries in the range."""
    if not action.slot:
        return []
    slot_actions = list(
        Action.objects.filter(slot=action.slot).order_by("pk").values("pk", "name", "allocation")
    )
    ids = [a["pk"] for a in slot_actions]
    totals = {
        r["action_id"]: r
        for r in Reaction.objects.filter(action_id__in=ids)
        .values("action_id")
        .annotate(
            delivered=Count("pk", filter=Q(kind=ReactionKind.DELIVERED)),
            accepted=Count("pk", filter=Q(kind=ReactionKind.ACCEPTED)),
            in_range=Count(
                "pk", filter=Q(kind=ReactionKind.DELIVERED, created_at__gte=since, created_at__lt=until)
            ),
        )
    }
    slot_delivered = sum(t["in_range"] for t in totals.values())
    out = []
    for a in slot_actions:
        t = totals.get(a["pk"], {"delivered": 0, "accepted": 0, "in_range": 0})
        out.append(
            {
                "action": a["pk"],
                "name": a["name"],
                "allocation": a["allocation"],
                "delivered": t["delivered"],
                "accepted": t["accepted"],
                "posterior_mean": round(allocation.posterior_mean(t["delivered"], t["accepted"]), 4),
                "traffic_share": round(t["in_range"] / slot_delivered, 4) if slot_delivered else None,
            }
        )
    return out


def reactions(*, action: Action | None = None, person_id: int | None = None) -> QuerySet[Reaction]:
    qs = Reaction.objects.select_related("action", "person").order_by("-created_at", "-pk")
    if action is not None:
        qs = qs.filter(action=action)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    return qs


def person_reactions(*, person_id: int, limit: int = 50) -> list[Reaction]:
    """The Person 360 timeline of reactions (the person and profiles merged into it)."""
    ids = [person_id, *Person.objects.filter(merged_into_id=person_id).values_list("pk", flat=True)]
    return list(
        Reaction.objects.filter(person_id__in=ids)
        .select_related("action")
        .order_by("-created_at", "-pk")[:limit]
    )


def deliveries(*, action: Action | None = None) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.select_related("action").order_by("-created_at", "-pk")
    if action is not None:
        qs = qs.filter(action=action)
    return qs
