"""The person edit form: standard attributes as model fields, and one typed field per custom attribute
definition (numbers, date pickers, yes/no, a small table for lists), so nobody types JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from unfold.widgets import (
    UnfoldAdminDateWidget,
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextInputWidget,
)

from people import services
from people.attributes import STANDARD_ATTRIBUTES, to_python
from people.models import AttributeDefinition, AttributeType, Person

CUSTOM_PREFIX = "custom__"
BOOLEAN_CHOICES = [("", "— (empty)"), ("true", "Yes"), ("false", "No")]


class ListTableWidget(forms.Widget):
    """A list of objects as a small table: one column per item field, rows added and removed by
    clicking. The raw JSON stays reachable behind an "advanced" toggle (and works without JS)."""

    template_name = "admin/people/widgets/list_table.html"

    def __init__(self, schema: list[dict], attrs=None):
        super().__init__(attrs)
        self.schema = schema

    def format_value(self, value):
        if value in (None, ""):
            return "[]"
        return value if isinstance(value, str) else json.dumps(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["schema"] = self.schema
        context["widget"]["schema_json"] = json.dumps(self.schema)
        return context


def custom_field(definition: AttributeDefinition) -> forms.Field:
    """The form field of one custom attribute, by its type."""
    common = {"required": False, "label": definition.label, "help_text": definition.description}
    match definition.type:
        case AttributeType.INTEGER:
            return forms.IntegerField(widget=UnfoldAdminIntegerFieldWidget, **common)
        case AttributeType.DECIMAL:
            return forms.DecimalField(widget=UnfoldAdminDecimalFieldWidget, **common)
        case AttributeType.BOOLEAN:
            return forms.ChoiceField(choices=BOOLEAN_CHOICES, widget=UnfoldAdminSelectWidget, **common)
        case AttributeType.DATE:
            return forms.DateField(widget=UnfoldAdminDateWidget, **common)
        case AttributeType.DATETIME:
            common["help_text"] = (definition.description + " " if definition.description else "") + "UTC."
            return forms.SplitDateTimeField(widget=UnfoldAdminSplitDateTimeWidget, **common)
        case AttributeType.LIST:
            return forms.JSONField(widget=ListTableWidget(definition.item_schema or []), **common)
        case _:
            return forms.CharField(widget=UnfoldAdminTextInputWidget, **common)


def initial_value(definition: AttributeDefinition, stored: Any) -> Any:
    """A stored (JSON-form) custom value as its form field expects it."""
    if stored is None:
        return None
    if definition.type == AttributeType.BOOLEAN:
        return "true" if stored is True else "false" if stored is False else None
    if definition.type == AttributeType.DATETIME:
        value = to_python(definition.type, stored)
        return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else None
    return to_python(definition.type, stored)


def stored_value(definition: AttributeDefinition, cleaned: Any) -> Any:
    """A cleaned form value in the attribute service's input form (``None`` = empty)."""
    if cleaned in (None, "", []):
        return None
    if definition.type == AttributeType.BOOLEAN:
        return cleaned == "true"
    if definition.type == AttributeType.DECIMAL:
        return float(cleaned)
    if definition.type == AttributeType.DATETIME:
        at = cleaned if cleaned.tzinfo else cleaned.replace(tzinfo=UTC)
        return at.isoformat()
    if isinstance(cleaned, date):
        return cleaned.isoformat()
    return cleaned


class PersonForm(forms.ModelForm):
    """Edits go through the attribute service (validation, audit), not straight to the row."""

    definitions: list[AttributeDefinition] = []

    class Meta:
        model = Person
        fields = ["kind", *STANDARD_ATTRIBUTES.keys()]

    @classmethod
    def with_custom_fields(cls) -> type[PersonForm]:
        """This form with one declared field per custom attribute definition (read per request:
        definitions change while the server runs)."""
        definitions = list(AttributeDefinition.objects.order_by("label", "key"))
        fields = {CUSTOM_PREFIX + d.key: custom_field(d) for d in definitions}
        return type("PersonForm", (cls,), {**fields, "definitions": definitions})

    @classmethod
    def custom_field_names(cls) -> list[str]:
        return [CUSTOM_PREFIX + d.key for d in cls.definitions]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        custom = self.instance.custom or {}
        for definition in self.definitions:
            name = CUSTOM_PREFIX + definition.key
            self.initial.setdefault(name, initial_value(definition, custom.get(definition.key)))
        # The values as the page was loaded travel with the form, so a save only writes what the
        # operator changed, not what changed in the database meanwhile (ingestion, other users).
        for field in self.fields.values():
            field.show_hidden_initial = True

    def clean(self):
        data = super().clean()
        try:
            services.validate_attribute_writes(self.attribute_writes())
        except ValidationError as exc:
            key = getattr(exc, "key", None)
            name = key if key in self.fields else CUSTOM_PREFIX + str(key)
            self.add_error(name if name in self.fields else None, exc.messages[0])
        return data

    def attribute_writes(self) -> list[services.AttributeWrite]:
        """What the operator changed, compared with the form as it was loaded (not with the row now:
        values that changed meanwhile, e.g. by ingestion, are left alone)."""
        data = self.cleaned_data
        writes = [
            services.AttributeWrite(k, data.get(k)) for k in STANDARD_ATTRIBUTES if k in self.changed_data
        ]
        for definition in self.definitions:
            name = CUSTOM_PREFIX + definition.key
            if name not in self.changed_data or name not in data:
                continue
            value = stored_value(definition, data[name])
            writes.append(
                services.AttributeWrite(definition.key, value)
                if value is not None
                else services.AttributeWrite(definition.key, op="unset")
            )
        return writes
