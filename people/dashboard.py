"""The admin dashboard (Unfold's DASHBOARD_CALLBACK)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse

from people import extensions
from people.lastcontacted import day_bounds
from people.models import Event, Job, Person, RejectedMessage
from people.selectors import organization_today, organization_tz


def estimated_count(model, queryset=None) -> int:
    """Row count without a full scan on PostgreSQL (planner statistics) for large tables; exact (of
    ``queryset`` when given) otherwise."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
            )
            row = cursor.fetchone()
        if row and row[0] is not None and row[0] > 100_000:
            return int(row[0])
    return (queryset if queryset is not None else model.objects).count()


def dashboard_callback(request, context: dict) -> dict:
    # The event figures scan today's and the last 14 days' events: computed at most once a minute.
    context.update(cache.get_or_set("attune:dashboard", _figures, timeout=60))
    context["recent_jobs"] = Job.objects.select_related("created_by").defer("params")[:8]
    return context


def _figures() -> dict:
    tz = organization_tz()
    today = organization_today()
    start, end = day_bounds(today, tz)
    since, _ = day_bounds(today - timedelta(days=13), tz)
    per_day = dict(
        Event.objects.filter(timestamp__gte=since, timestamp__lt=end)
        .annotate(day=TruncDate("timestamp", tzinfo=tz))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    days = [today - timedelta(days=i) for i in range(13, -1, -1)]
    stats = [
        {
            "label": "People",
            "value": f"{estimated_count(Person, Person.objects.live()):,}",
            "link": reverse("admin:people_person_changelist"),
        },
        {
            "label": "Events today",
            "value": f"{Event.objects.filter(timestamp__gte=start, timestamp__lt=end).count():,}",
            "link": reverse("admin:people_event_changelist"),
        },
        {
            "label": "Rejected today",
            "value": f"{RejectedMessage.objects.filter(received_at__range=(start, end)).count():,}",
            "link": reverse("admin:people_rejectedmessage_changelist"),
        },
    ]
    for stat in sorted(extensions.dashboard_stats.values(), key=lambda s: s.order):
        value = stat.value()
        stats.append(
            {
                "label": stat.label,
                "value": f"{value:,}" if isinstance(value, int) else value,
                "link": stat.link,
            }
        )
    return {
        "stats": stats,
        "events_chart": json.dumps(
            {
                "labels": [d.strftime("%b %d") for d in days],
                "datasets": [
                    {
                        "label": "Events",
                        "data": [per_day.get(d, 0) for d in days],
                        "backgroundColor": "var(--color-primary-600)",
                    }
                ],
            }
        ),
    }
