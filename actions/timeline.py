"""The actions app's entries on the Person 360 timeline: the person's reactions to actions."""

from __future__ import annotations

from django.urls import reverse

from people.extensions import TimelineBefore, TimelineEntry, timeline_page, timeline_source
from people.templatetags.attune import as_json


@timeline_source("reactions", label="Action reactions", badge="action", order=40)
def reaction_entries(person_ids: list[int], before: TimelineBefore | None, limit: int) -> list[TimelineEntry]:
    """From the reaction log, newest first."""
    from actions.models import Reaction

    reactions = Reaction.objects.filter(person_id__in=person_ids).select_related("action")
    rows = timeline_page(reactions, before, limit, time_field="created_at")
    return [
        TimelineEntry(
            at=row.created_at,
            id=row.pk,
            title=f"{row.get_kind_display()}: {row.action.name}",
            detail=(f"on {row.channel} · " if row.channel else "") + f"action type {row.action.type}",
            link=reverse("admin:actions_action_change", args=[row.action_id]),
            code=as_json(row.properties) if row.properties else "",
        )
        for row in rows
    ]
