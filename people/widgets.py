"""The visual condition builder: one form widget for every condition in the admin (audiences, scoring
rules, action targeting). See docs/conditions.md ("The visual builder").

    from people.widgets import ConditionBuilderWidget
    definition = forms.JSONField(widget=ConditionBuilderWidget(mode="condition"))

The value is the condition JSON (``people/conditions``); the marketer never types it: attributes,
events, properties and operators are picked from ``condition_metadata`` (what exists), values are typed
inputs (numbers, dates, booleans), groups nest AND/OR/NOT. Modes:

- ``condition``: one condition tree (scoring rules, targeting);
- ``funnel``: ``{"steps": [...]}`` (ordered event steps with "within" and "did not");
- ``rules``: scoring rules ``[{"label", "points", "condition"}]`` (a computed scoring model);
- ``filters``: event property filters ``[{"property", "op", "value"}]`` (a computed aggregate's
  ``filters``); properties are suggested from the schema of the event named in the form field
  ``event_field``;
- ``audience``: ``{"condition": tree}`` or ``{"steps": [...]}``, switching with the select named by
  ``type_field`` (an audience's type).

``preview_url`` (optional): a URL answering ``POST {"type", "include_anonymous", "definition"}`` with
``{"count", "sample"}`` or ``{"definition...": [errors]}``; the widget shows the live count under it.
A "Raw JSON" toggle shows the JSON for advanced users; a ``class`` in ``attrs`` styles its textarea.
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

    def __init__(
        self,
        *,
        mode: str = "condition",
        preview_url: str = "",
        type_field: str = "",
        event_field: str = "",
        attrs=None,
    ):
        super().__init__(attrs)
        self.mode, self.preview_url, self.type_field = mode, preview_url, type_field
        self.event_field = event_field

    def format_value(self, value):
        if value in (None, ""):
            return ""
        if isinstance(value, str):
            return value
        return json.dumps(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        # A class given in attrs styles the raw JSON textarea (e.g. the admin's bordered input).
        raw_class = context["widget"]["attrs"].pop("class", "")
        context["widget"].update(
            {
                "raw_class": raw_class,
                "mode": self.mode,
                "preview_url": self.preview_url,
                "type_field": self.type_field,
                "event_field": self.event_field,
                "metadata_url": reverse("condition-metadata"),
            }
        )
        return context

    def value_from_datadict(self, data, files, name):
        return data.get(name)
