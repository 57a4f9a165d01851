"""Admin forms of the actions app: marketers pick channels, attributes, audiences and operators; they
never type JSON (except a webhook's optional extra JSON)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSplitDateTimeWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from actions.models import Action, ActionProperty, CappingRule, Hook
from actions.services import ACTION_FIELDS
from actions.targeting import CONTEXT_TYPES
from people.conditions.attributes import all_attributes
from people.conditions.operators import OPERATORS
from people.models import Channel
from people.widgets import ConditionBuilderWidget

EMPTY_ROWS = 3


def channel_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [
        (key, f"{name} ({key})") for key, name in Channel.objects.order_by("key").values_list("key", "name")
    ]
    return [("", blank), *choices] if blank is not None else choices


def attribute_choices() -> list[tuple[str, str]]:
    refs = sorted(all_attributes(), key=lambda r: (r.kind, r.label.lower()))
    return [("", "—"), *[(r.key, f"{r.label} ({r.key}, {r.kind})") for r in refs]]


def audience_choices() -> list[tuple[int, str]]:
    from audiences.models import Audience

    return [
        (pk, f"{name} ({key}, {state})")
        for pk, key, name, state in Audience.objects.order_by("name").values_list(
            "pk", "key", "name", "state"
        )
    ]


class ContextConditionsWidget(forms.Widget):
    """A table of context conditions: channel, context key, type, operator, value (one row each)."""

    template_name = "actions/widgets/context_conditions.html"

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.channels: list[tuple[str, str]] = []

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        rows = [dict(row) for row in (value or []) if isinstance(row, dict)]
        for row in rows:
            v = row.get("value")
            row["value_text"] = (
                ", ".join(str(x) for x in v) if isinstance(v, list) else ("" if v is None else v)
            )
            if isinstance(v, bool):
                row["value_text"] = "true" if v else "false"
        rows += [{} for _ in range(EMPTY_ROWS)]
        ops = list(dict.fromkeys(op for t in CONTEXT_TYPES for op in OPERATORS[t]))
        context["widget"].update(
            {"rows": rows, "channels": self.channels, "types": CONTEXT_TYPES, "ops": ops, "count": len(rows)}
        )
        return context

    def value_from_datadict(self, data, files, name):
        try:
            count = min(int(data.get(f"{name}-count", 0)), 100)
        except ValueError:
            count = 0
        rows = []
        for i in range(count):
            key = (data.get(f"{name}-{i}-key") or "").strip()
            if not key:
                continue
            value_type = data.get(f"{name}-{i}-type") or "text"
            op = data.get(f"{name}-{i}-op") or "equals"
            rows.append(
                {
                    "channel": data.get(f"{name}-{i}-channel") or "",
                    "key": key,
                    "type": value_type,
                    "op": op,
                    "value": _parse(value_type, op, data.get(f"{name}-{i}-value") or ""),
                }
            )
        return rows


def _parse(value_type: str, op: str, text: str) -> Any:
    text = text.strip()
    if op in ("is_empty", "is_not_empty"):
        return None
    if op in ("in", "not_in", "between"):
        return [_scalar(value_type, part.strip()) for part in text.split(",") if part.strip()]
    return _scalar(value_type, text)


def _scalar(value_type: str, text: str) -> Any:
    if value_type == "number":
        try:
            return float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            return text  # the checker names the problem
    if value_type == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


class ContextConditionsField(forms.Field):
    widget = ContextConditionsWidget

    def to_python(self, value):
        return value or []


def channels_field(help_text: str) -> forms.MultipleChoiceField:
    """Channel checkboxes (their choices are set when the form is built)."""
    return forms.MultipleChoiceField(
        choices=(), widget=UnfoldAdminCheckboxSelectMultipleWidget, required=False, help_text=help_text
    )


class ActionForm(forms.ModelForm):
    channels = channels_field("Served on these channels.")
    tags = forms.CharField(
        required=False, widget=UnfoldAdminTextInputWidget, help_text="Comma-separated, e.g. home, summer."
    )
    trait_conditions = forms.JSONField(
        required=False,
        widget=ConditionBuilderWidget(mode="condition"),
        help_text="Who gets it: attributes, events, last contacted (empty = everyone).",
    )
    context_conditions = ContextConditionsField(
        required=False,
        help_text="On the request's context (dotted keys such as page.path); a row applies to its channel.",
    )
    audience_ids = forms.TypedMultipleChoiceField(
        choices=(),
        coerce=int,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        required=False,
        label="Audiences",
        help_text="A member of any of these (none = no restriction).",
    )

    class Meta:
        model = Action
        fields = ACTION_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = channel_choices()
        self.fields["audience_ids"].choices = audience_choices()
        self.fields["context_conditions"].widget.channels = channel_choices(blank="any channel")
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags or [])

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in (self.cleaned_data.get("tags") or "").split(",") if t.strip()]


class PropertyForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=(), required=False, widget=UnfoldAdminSelectWidget)
    attribute = forms.ChoiceField(
        choices=(), required=False, widget=UnfoldAdminSelectWidget, help_text="For attribute values."
    )

    class Meta:
        model = ActionProperty
        fields = ["channel", "name", "kind", "value", "attribute", "value_type", "fallback"]
        widgets = {
            "value": UnfoldAdminTextareaWidget(attrs={"rows": 2, "cols": 30}),
            "fallback": UnfoldAdminTextInputWidget(attrs={"size": 10}),
            "name": UnfoldAdminTextInputWidget(attrs={"size": 10}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channel_choices(blank="every channel")
        self.fields["attribute"].choices = attribute_choices()


class CappingRuleForm(forms.ModelForm):
    channels = channels_field("None = every channel.")

    class Meta:
        model = CappingRule
        fields = ["reaction", "group", "count", "within_days", "channels"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = channel_choices()


class HookForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=(), required=False, widget=UnfoldAdminSelectWidget)
    extra = forms.JSONField(
        required=False,
        initial=dict,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text='Optional, sent as customProperties, e.g. {"coupon": "SUMMER"}.',
    )

    class Meta:
        model = Hook
        fields = ["reaction", "channel", "kind", "event_name", "url", "extra", "synchronous"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channel_choices(blank="every channel")

    def clean_extra(self):
        value = self.cleaned_data.get("extra")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError("Expected a JSON object.")
        return value


class TestUserForm(forms.ModelForm):
    channel = forms.ChoiceField(choices=(), required=False, widget=UnfoldAdminSelectWidget)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channel_choices(blank="every channel")


class SimulateForm(forms.Form):
    person = forms.CharField(
        widget=UnfoldAdminTextInputWidget,
        help_text="Profile id, unified id, or any identifier (user id, email ...).",
    )
    channel = forms.ChoiceField(choices=(), widget=UnfoldAdminSelectWidget)
    type = forms.CharField(required=False, widget=UnfoldAdminTextInputWidget)
    tags = forms.CharField(required=False, widget=UnfoldAdminTextInputWidget, help_text="Comma-separated.")
    context = forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="One per line: page.path = /home",
    )
    at = forms.SplitDateTimeField(
        required=False,
        widget=UnfoldAdminSplitDateTimeWidget,
        help_text="Simulate at this time in the organization's timezone (default now).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channel_choices()

    def clean_context(self) -> dict:
        context: dict = {}
        for number, line in enumerate((self.cleaned_data.get("context") or "").splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ValidationError(f"line {number}: expected key = value")
            node = context
            parts = key.strip().split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValidationError(f"line {number}: {key.strip()} clashes with another key")
            node[parts[-1]] = _scalar_guess(value.strip())
        return context


def _scalar_guess(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class AnalysisForm(forms.Form):
    start = forms.DateField()
    end = forms.DateField(help_text="Inclusive.")
    resolution = forms.ChoiceField(
        choices=[("hour", "Hour"), ("day", "Day"), ("week", "Week")], initial="day"
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ValidationError("The end date is before the start date.")
        return data
