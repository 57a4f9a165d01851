"""The actions app's section of the Person 360 page and its dashboard number."""

from __future__ import annotations

from people.extensions import person_panel


@person_panel("actions", title="Actions and reactions", template="actions/panels/reactions.html", order=40)
def reactions_context(person, request) -> dict:
    from actions.selectors import person_reactions

    return {"action_reactions": person_reactions(person_id=person.pk)}


def actions_using_audience(audience) -> list[str]:
    from actions.models import Action

    return [
        f"action {name!r}"
        for name, ids in Action.objects.exclude(audience_ids=[]).values_list("name", "audience_ids")
        if audience.pk in (ids or [])
    ]
