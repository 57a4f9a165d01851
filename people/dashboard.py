"""The admin dashboard (Unfold's DASHBOARD_CALLBACK): headline numbers, charts with axes and tooltips,
the latest events and jobs. The figures that scan events are computed at most once a minute."""

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
from people.models import Event, Job, Person, RejectedMessage, Source
from people.selectors import latest_events, organization_today, organization_tz

CHART_DAYS = 14
LATEST_EVENTS = 10
# Unfold's palette first, then distinct colours for further sources.
SERIES_COLOURS = [
    "var(--color-primary-600)",
    "#0ea5e9",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#6366f1",
    "#84cc16",
]


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


def about(value: int, *, estimated: bool) -> str:
    """A count as people read it: exact below 100,000 ("12,345"), else "about 1.2M"."""
    if not estimated or value < 100_000:
        return f"{value:,}"
    for divisor, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if value >= divisor:
            return f"about {value / divisor:.1f}{suffix}"
    return f"{value:,}"


def chart_options(*, x_title: str, y_title: str, stacked: bool = False, legend: bool = True) -> str:
    """Chart.js options: titled axes with whole-number ticks, tooltips with every series' value."""
    axis = {"stacked": stacked, "grid": {"display": False}}
    return json.dumps(
        {
            "responsive": True,
            "maintainAspectRatio": False,
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {
                "legend": {"display": legend, "position": "bottom", "labels": {"boxWidth": 12}},
                "tooltip": {"enabled": True},
            },
            "scales": {
                "x": {**axis, "title": {"display": True, "text": x_title}},
                "y": {
                    "stacked": stacked,
                    "beginAtZero": True,
                    "ticks": {"precision": 0},
                    "title": {"display": True, "text": y_title},
                },
            },
        }
    )


def dashboard_callback(request, context: dict) -> dict:
    context.update(cache.get_or_set("attune:dashboard", _figures, timeout=60))
    context["recent_jobs"] = Job.objects.select_related("created_by").defer("params")[:8]
    context["latest_events"] = latest_events(limit=LATEST_EVENTS)
    context["latest_events_url"] = reverse("admin:people_event_latest")
    return context


def _figures() -> dict:
    tz = organization_tz()
    today = organization_today()
    start, end = day_bounds(today, tz)
    since, _ = day_bounds(today - timedelta(days=CHART_DAYS - 1), tz)
    days = [today - timedelta(days=i) for i in range(CHART_DAYS - 1, -1, -1)]
    labels = [d.strftime("%b %d") for d in days]

    per_day_source = (
        Event.objects.filter(timestamp__gte=since, timestamp__lt=end)
        .annotate(day=TruncDate("timestamp", tzinfo=tz))
        .values_list("day", "source_id")
        .annotate(n=Count("id"))
    )
    counts: dict[int | None, dict] = {}
    for day, source_id, n in per_day_source:
        counts.setdefault(source_id, {})[day] = n
    names = dict(Source.objects.filter(pk__in=[k for k in counts if k]).values_list("pk", "name"))
    series = sorted(counts, key=lambda k: names.get(k, "~"))
    events_by_source = {
        "labels": labels,
        "datasets": [
            {
                "label": names.get(source_id, "No source (API, imports)"),
                "data": [counts[source_id].get(d, 0) for d in days],
                "backgroundColor": SERIES_COLOURS[i % len(SERIES_COLOURS)],
                "borderRadius": 2,
            }
            for i, source_id in enumerate(series)
        ],
    }
    events_week = sum(n for per in counts.values() for d, n in per.items() if d >= today - timedelta(days=6))
    events_today = sum(per.get(today, 0) for per in counts.values())

    new_per_day = dict(
        Person.objects.filter(created_at__gte=since, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    new_profiles = {
        "labels": labels,
        "datasets": [
            {
                "label": "New profiles",
                "data": [new_per_day.get(d, 0) for d in days],
                "borderColor": "var(--color-primary-600)",
                "backgroundColor": "var(--color-primary-600)",
                "cubicInterpolationMode": "monotone",
                "fill": False,
            }
        ],
    }

    rejected_today = RejectedMessage.objects.filter(received_at__gte=start, received_at__lt=end).count()
    received_today = events_today + rejected_today
    rejection_rate = f"{100 * rejected_today / received_today:.1f}%" if received_today else "—"
    people = estimated_count(Person, Person.objects.live())
    stats = [
        {
            "label": "Profiles",
            "value": about(people, estimated=connection.vendor == "postgresql"),
            "link": reverse("admin:people_person_changelist"),
        },
        {
            "label": "Events today",
            "value": f"{events_today:,}",
            "link": reverse("admin:people_event_changelist"),
        },
        {
            "label": "Events, last 7 days",
            "value": f"{events_week:,}",
            "link": reverse("admin:people_event_changelist"),
        },
        {
            "label": "Rejected today",
            "value": f"{rejected_today:,} ({rejection_rate})",
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
    sections = [
        {"key": section.key, "title": section.title, "template": section.template, "data": section.context()}
        for section in sorted(extensions.dashboard_sections.values(), key=lambda s: (s.order, s.key))
    ]
    return {
        "stats": stats,
        "sections": sections,
        "chart_days": CHART_DAYS,
        "events_chart": json.dumps(events_by_source),
        "events_chart_options": chart_options(x_title="Day", y_title="Events", stacked=True),
        "events_total": sum(sum(per.values()) for per in counts.values()),
        "profiles_chart": json.dumps(new_profiles),
        "profiles_chart_options": chart_options(x_title="Day", y_title="New profiles", legend=False),
        "profiles_total": sum(new_per_day.values()),
    }
