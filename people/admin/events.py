"""Events (newest first) and the quarantine of rejected messages."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from unfold.contrib.filters.admin import (
    RangeDateTimeFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import display
from unfold.paginator import InfinitePaginator

from people import selectors
from people.admin.base import OwnPagesMixin, ReadOnlyAdmin
from people.dashboard import LATEST_EVENTS
from people.models import (
    Event,
    EventDefinition,
    RejectedMessage,
)


class EventNameFilter(admin.SimpleListFilter):
    title = "event name"
    parameter_name = "name"
    template = "unfold/filters/filters_field.html"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EventDefinition.objects.values_list("name", flat=True)]

    def choices(self, changelist):
        from unfold.contrib.filters.forms import DropdownForm

        yield {
            "form": DropdownForm(
                label="By event name",
                name=self.parameter_name,
                choices=[["", "All"], *self.lookup_choices],
                data={self.parameter_name: self.value()},
                multiple=False,
            )
        }

    def queryset(self, request, queryset):
        return queryset.filter(name=self.value()) if self.value() else queryset


class PersonUidFilter(admin.SimpleListFilter):
    """Filter by one person (by unified id), as linked from the 360 page."""

    title = "person"
    parameter_name = "person"

    def lookups(self, request, model_admin):
        value = request.GET.get(self.parameter_name)
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isascii() and value.isdigit():
            return queryset.filter(person_id=int(value))
        try:
            return queryset.filter(person__uid=uuid.UUID(value))
        except ValueError:
            messages.error(request, f"Person filter: {value!r} is neither a unified id nor a number.")
            return queryset.none()


RECENT_DAYS = 7


@admin.register(Event)
class EventAdmin(OwnPagesMixin, ReadOnlyAdmin):
    list_display = ["name", "type", "person_link", "channel", "source", "timestamp", "received_at"]
    list_filter = [
        EventNameFilter,
        PersonUidFilter,
        ("channel", RelatedDropdownFilter),
        ("timestamp", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["person", "channel", "source"]
    show_full_result_count = False
    paginator = InfinitePaginator
    search_fields = ["=message_id"]
    search_help_text = "Message id (exact)"

    list_before_template = "admin/people/event/list_note.html"
    ordering = ["-timestamp", "-pk"]

    def get_queryset(self, request):
        """Newest first by event time. Sorting every event by time on each page load would not scale,
        so without a person, an event name or a time range the list shows the last
        ``RECENT_DAYS`` days (the BRIN index on event time finds them)."""
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name.endswith("changelist"):
            return queryset
        if self._recent_only(request):
            queryset = queryset.filter(timestamp__gte=timezone.now() - timedelta(days=RECENT_DAYS))
        return queryset

    @staticmethod
    def _recent_only(request) -> bool:
        narrowed = any(request.GET.get(k) for k in ("person", "name")) or any(
            k.startswith("timestamp_") and v for k, v in request.GET.items()
        )
        return not narrowed

    def changelist_view(self, request, extra_context=None):
        context = {"recent_days": RECENT_DAYS, "recent_only": self._recent_only(request)}
        return super().changelist_view(request, {**(extra_context or {}), **context})

    def own_pages(self):
        return [("latest/", self.latest_view, "people_event_latest")]

    def latest_view(self, request):
        """The dashboard's live tail: ``?after=<id>`` answers the newest events received after that
        one (at most ``LATEST_EVENTS``, newest first) and ``last_id``; 400 for an ``after`` that is
        not a whole number. Staff with the right to view events only."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = request.GET.get("after", "0").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return JsonResponse({"after": "expected the id of an event (a whole number)"}, status=400)
        events = selectors.latest_events(after=int(raw), limit=LATEST_EVENTS)
        now = timezone.now()
        return JsonResponse(
            {
                "last_id": events[0].pk if events else int(raw),
                "events": [
                    {
                        "id": event.pk,
                        "name": event.name or event.type,
                        "person": str(event.person),
                        "person_url": reverse("admin:people_person_change", args=[event.person_id]),
                        "source": event.source.name if event.source else "",
                        "received_at": event.received_at.isoformat(),
                        "received": f"{timesince(event.received_at, now)} ago",
                    }
                    for event in events
                ],
            }
        )

    @display(description="Person")
    def person_link(self, obj: Event) -> str:
        url = reverse("admin:people_person_change", args=[obj.person_id])
        return format_html('<a href="{}">{}</a>', url, obj.person)


@admin.register(RejectedMessage)
class RejectedMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "reason_code", "short_reason", "source", "message_type", "message_id"]
    list_filter = ["reason_code", ("source", RelatedDropdownFilter), ("received_at", RangeDateTimeFilter)]
    list_filter_submit = True
    list_select_related = ["source"]
    show_full_result_count = False
    paginator = InfinitePaginator
    search_fields = ["=message_id", "reason"]
    ordering = ["-received_at"]

    @display(description="Reason")
    def short_reason(self, obj: RejectedMessage) -> str:
        return obj.reason[:120]
