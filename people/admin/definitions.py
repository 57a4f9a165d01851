"""Custom attribute, event and context definitions."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from people.models import (
    AttributeDefinition,
    ContextDefinition,
    ContextPropertyDefinition,
    EventDefinition,
    EventPropertyDefinition,
)
from people.validation import validate_attribute_definition


class AttributeDefinitionForm(forms.ModelForm):
    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type", "description", "item_schema"]

    def _post_clean(self):
        super()._post_clean()
        try:
            validate_attribute_definition(self.instance)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(ModelAdmin):
    form = AttributeDefinitionForm
    list_display = ["key", "label", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["key", "label"]

    def get_readonly_fields(self, request, obj=None):
        return ["key", "type", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class PropertyInline(TabularInline):
    """The properties of an event or context definition, edited in place."""

    extra = 0
    fields = ["key", "type", "regex", "required", "description"]


class EventPropertyInline(PropertyInline):
    model = EventPropertyDefinition


@admin.register(EventDefinition)
class EventDefinitionAdmin(ModelAdmin):
    list_display = ["name", "is_contact", "property_count", "created_at"]
    list_filter = ["is_contact"]
    search_fields = ["name"]
    inlines = [EventPropertyInline]

    @display(description="Properties")
    def property_count(self, obj: EventDefinition) -> int:
        return obj.properties.count()


class ContextPropertyInline(PropertyInline):
    model = ContextPropertyDefinition


@admin.register(ContextDefinition)
class ContextDefinitionAdmin(ModelAdmin):
    list_display = ["channel", "description"]
    inlines = [ContextPropertyInline]
    autocomplete_fields = ["channel"]
