"""django-filter filtersets of the people management API."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from rest_framework.exceptions import ValidationError as ApiValidationError

from people.lastcontacted import ContactOperator, day_count
from people.models import Event, Job, Person


class PersonFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(method="filter_email")
    phone = django_filters.CharFilter()
    country = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=Person.Kind.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    modified_after = django_filters.IsoDateTimeFilter(field_name="modified_at", lookup_expr="gte")
    last_contacted = django_filters.ChoiceFilter(
        choices=[(op.value, op.value) for op in ContactOperator],
        method="filter_last_contacted",
        help_text=(
            "Last-contacted operator: more_than / less_than / exactly (with days=N), before / after "
            "(with at=ISO datetime), on (with on=YYYY-MM-DD, organization timezone), unknown. "
            "Optionally channel=<channel key>."
        ),
    )
    days = django_filters.NumberFilter(method="noop", help_text="N for more_than / less_than / exactly.")
    at = django_filters.IsoDateTimeFilter(method="noop", help_text="Instant for before / after.")
    on = django_filters.DateFilter(method="noop", help_text="Calendar date for on.")
    channel = django_filters.CharFilter(
        method="noop", help_text="Channel key for per-channel last contacted."
    )

    class Meta:
        model = Person
        fields = ["email", "phone", "country", "kind"]

    def noop(self, queryset, name, value):
        return queryset

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=value.strip().lower())

    def filter_last_contacted(self, queryset, name, value):
        from people.models import Channel

        op = ContactOperator(value)
        data = self.form.cleaned_data
        if op in {ContactOperator.MORE_THAN, ContactOperator.LESS_THAN, ContactOperator.EXACTLY}:
            argument = data.get("days")
            field = "days"
        elif op in {ContactOperator.BEFORE, ContactOperator.AFTER}:
            argument, field = data.get("at"), "at"
        elif op is ContactOperator.ON:
            argument, field = data.get("on"), "on"
        else:
            argument, field = None, ""
        if field and argument is None:
            raise ApiValidationError({field: [f"Required with last_contacted={op.value}."]})
        if field == "days":
            try:
                argument = day_count(argument)
            except ValueError as exc:
                raise ApiValidationError({"days": [str(exc)]}) from exc
        channel_id = None
        if data.get("channel"):
            channel_id = Channel.objects.filter(key=data["channel"]).values_list("pk", flat=True).first()
            if channel_id is None:
                raise ApiValidationError({"channel": [f"Unknown channel {data['channel']!r}."]})
        try:
            return queryset.last_contacted(op, argument, channel_id=channel_id)
        except (ValueError, ValidationError, OverflowError) as exc:
            raise ApiValidationError({"last_contacted": [str(exc)]}) from exc


class EventFilter(django_filters.FilterSet):
    person = django_filters.UUIDFilter(field_name="person__uid")
    name = django_filters.CharFilter()
    channel = django_filters.CharFilter(field_name="channel__key")
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["person", "name", "channel", "since", "until"]


class JobFilter(django_filters.FilterSet):
    class Meta:
        model = Job
        fields = ["status", "kind"]
