"""What identity adds to people's admin through ``people.extensions`` (registered in ``ready()``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse

from identity import selectors, services
from identity.models import Identity
from people import extensions
from people.dashboard import estimated_count


def identifiers_panel(person, request) -> dict:
    return {
        "identities": selectors.person_identities(person=person),
        "merges": selectors.person_merges(person=person)[:20],
        "merged_into": person.merged_into,
    }


@admin.action(description="Merge selected people (into the oldest)", permissions=["change"])
def merge_selected_people(modeladmin, request, queryset):
    people = list(queryset.filter(merged_into__isnull=True)[:50])
    if len(people) < 2:
        messages.error(request, "Select at least two profiles to merge.")
        return None
    if "apply" in request.POST:
        try:
            merges = services.people_merge_manual(people=people, actor=request.user)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return None
        messages.success(
            request, f"Merged {len(merges)} profile(s) into {merges[0].parent}. Undo from Merges."
        )
        return None
    return TemplateResponse(
        request,
        "admin/identity/merge_confirm.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Merge people",
            "preview": services.merge_preview(people=people),
            "selected_ids": [p.pk for p in people],
            "opts": modeladmin.model._meta,
        },
    )


def register() -> None:
    extensions.register_person_panel(
        "identity",
        title="Identifiers",
        template="admin/identity/person_identifiers.html",
        context=identifiers_panel,
        order=10,
    )
    extensions.register_person_action(merge_selected_people)
    extensions.register_dashboard_stat(
        "identities",
        label="Identities",
        value=lambda: f"{estimated_count(Identity):,}",
        link="/admin/identity/identity/",
        order=20,
    )
    extensions.register_person_search("identity", selectors.person_ids_by_identifier_value)
    extensions.register_source_link(
        "debugger", lambda source: ("event debugger", reverse("admin:identity_debugger", args=[source.pk]))
    )
    extensions.register_source_link(
        "activity",
        lambda source: (
            "activity",
            reverse("admin:identity_sourcedailystat_changelist") + f"?source__id__exact={source.pk}",
        ),
    )


register()
