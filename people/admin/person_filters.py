"""The person list's filters: each one index-backed (no scan of every profile per page load)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from unfold.contrib.filters.admin import (
    TextFilter,
)

from people import selectors
from people.lastcontacted import ContactOperator, day_count
from people.models import (
    AttributeDefinition,
    Channel,
)


class CountryFilter(TextFilter):
    """Country as typed (exact, index-backed): no DISTINCT scan of every profile on each page load."""

    title = "country"
    parameter_name = "country"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(Q(country=value) | Q(country=value.upper())) if value else queryset


class FormFilter(admin.ListFilter):
    """A list filter rendered as a small form of several query parameters (``parameters``): each
    subclass lists its ``controls()``, select boxes (``select``) and text boxes (``text_box``)."""

    template = "admin/people/person/form_filter.html"
    parameters: tuple[str, ...] = ()
    key = ""

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.values[name] = value[-1] if isinstance(value, list) else value

    def has_output(self) -> bool:
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def controls(self) -> list[dict]:
        raise NotImplementedError

    def choices(self, changelist):
        yield {"key": self.key, "heading": f"By {self.title}", "controls": self.controls()}

    def select(self, name: str, blank: str, options) -> dict:
        value = self.values.get(name, "")
        return {
            "name": name,
            "blank": blank,
            "value": value,
            "options": [(str(v), label) for v, label in options],
        }

    def text_box(self, name: str, placeholder: str) -> dict:
        return {"name": name, "placeholder": placeholder, "value": self.values.get(name, ""), "options": None}


class LastContactedFilter(FormFilter):
    """The seven last-contacted operators, overall or on one channel."""

    title = "last contacted"
    key = "last-contacted"
    parameters = ("lc_op", "lc_value", "lc_channel")

    def controls(self) -> list[dict]:
        return [
            self.select("lc_op", "Any", [(op.value, op.value.replace("_", " ")) for op in ContactOperator]),
            self.text_box("lc_value", "days, or YYYY-MM-DD [HH:MM]"),
            self.select("lc_channel", "Any channel", Channel.objects.values_list("pk", "name")),
        ]

    def queryset(self, request, queryset):
        op = self.values.get("lc_op")
        if not op:
            return queryset
        raw = self.values.get("lc_value", "")
        channel = self.values.get("lc_channel") or None
        try:
            operator = ContactOperator(op)
            value = _parse_contact_value(operator, raw)
            channel_id = int(channel) if channel else None
            return queryset.last_contacted(operator, value, channel_id=channel_id)
        except (ValueError, TypeError, OverflowError) as exc:
            messages.error(request, f"Last contacted filter: {exc}")
            return queryset.none()


def _parse_contact_value(operator: ContactOperator, raw: str):
    if operator is ContactOperator.UNKNOWN:
        return None
    if operator in {ContactOperator.MORE_THAN, ContactOperator.LESS_THAN, ContactOperator.EXACTLY}:
        return day_count(raw.strip())
    if operator is ContactOperator.ON:
        parsed = parse_date(raw.strip())
        if parsed is None:
            raise ValueError("enter a date as YYYY-MM-DD")
        return parsed
    parsed_dt = parse_datetime(raw.strip()) or (
        parse_datetime(raw.strip() + "T00:00:00") if parse_date(raw.strip()) else None
    )
    if parsed_dt is None:
        raise ValueError("enter a date and time as YYYY-MM-DD HH:MM")
    if timezone.is_naive(parsed_dt):
        parsed_dt = timezone.make_aware(parsed_dt, selectors.organization_tz())
    return parsed_dt


class CustomAttributeFilter(FormFilter):
    """Custom attribute equals a value (or is empty / not empty)."""

    title = "custom attribute"
    key = "custom-attribute"
    parameters = ("ca_key", "ca_value")

    def has_output(self) -> bool:
        return AttributeDefinition.objects.exists()

    def controls(self) -> list[dict]:
        return [
            self.select("ca_key", "Any", AttributeDefinition.objects.values_list("key", "label")),
            self.text_box("ca_value", "equals … , (any) or (empty)"),
        ]

    def queryset(self, request, queryset):
        key = self.values.get("ca_key")
        if not key:
            return queryset
        definition = AttributeDefinition.objects.filter(key=key).first()
        if definition is None:
            return queryset
        raw = self.values.get("ca_value", "").strip()
        if raw in {"", "(empty)"}:
            return queryset.filter(Q(**{f"custom__{key}__isnull": True}))
        if raw == "(any)":
            return queryset.filter(**{f"custom__{key}__isnull": False})
        try:
            from people.attributes import cast_value

            value = cast_value(key, definition.type, raw)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return queryset.none()
        if connection.vendor == "postgresql":
            return queryset.filter(custom__contains={key: value})  # served by the GIN index on custom
        return queryset.filter(**{f"custom__{key}": value})
