"""The visual condition builder: one form widget for every condition in the admin (audiences, scoring
rules, action targeting). See docs/conditions.md ("The visual builder").

    from people.widgets import ConditionBuilderWidget
    definition = forms.JSONField(widget=ConditionBuilderWidget(mode="condition"))

The value is the condition JSON (``people/conditions``); the marketer never types it: attributes,
events, properties and operators are picked from ``condition_metadata`` (what exists), values are typed
inputs (numbers, dates, booleans), groups nest AND/OR/NOT. Modes:

- ``condition``: one condition tree (scoring rules, targeting);
- ``funnel``: ``{"steps": [...]}`` (ordered event steps with "within" and "did not");
- ``audience``: ``{"condition": tree}`` or ``{"steps": [...]}``, switching with the select named by
  ``type_field`` (an audience's type).

``preview_url`` (optional): a URL answering ``POST {"type", "include_anonymous", "definition"}`` with
``{"count", "sample"}`` or ``{"definition...": [errors]}``; the widget shows the live count under it.
A "Raw JSON" toggle shows the JSON for advanced users.
"""

from __future__ import annotations

import json

from django import forms
from django.urls import reverse


class ConditionBuilderWidget(forms.Widget):
    template_name = "people/widgets/condition_builder.html"

    class Media:
        js = ("people/conditions/builder.js",)
        css = {"all": ("people/conditions/builder.css",)}

    def __init__(self, *, mode: str = "condition", preview_url: str = "", type_field: str = "", attrs=None):
        super().__init__(attrs)
        self.mode, self.preview_url, self.type_field = mode, preview_url, type_field

    def format_value(self, value):
        if value in (None, ""):
            return ""
        if isinstance(value, str):
            return value
        return json.dumps(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            {
                "mode": self.mode,
                "preview_url": self.preview_url,
                "type_field": self.type_field,
                "metadata_url": reverse("condition-metadata"),
            }
        )
        return context

    def value_from_datadict(self, data, files, name):
        return data.get(name)
