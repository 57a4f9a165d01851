"""The audiences app's entries on the Person 360 timeline: entries into and exits from audiences."""

from __future__ import annotations

from django.urls import reverse

from people.extensions import TimelineBefore, TimelineEntry, timeline_page, timeline_source


@timeline_source("audiences", label="Audience entries and exits", badge="audience", order=30)
def membership_entries(
    person_ids: list[int], before: TimelineBefore | None, limit: int
) -> list[TimelineEntry]:
    """From the membership history (index on person and time), newest first."""
    from audiences.models import MembershipHistory

    history = MembershipHistory.objects.filter(person_id__in=person_ids).select_related("audience")
    rows = timeline_page(history, before, limit, time_field="at", id_field="id")
    return [
        TimelineEntry(
            at=row.at,
            id=row.id,
            title=f"{row.get_kind_display()} {row.audience.name}",
            detail=f"audience {row.audience.key}, version {row.version}",
            link=reverse("admin:audiences_audience_change", args=[row.audience_id]),
        )
        for row in rows
    ]
