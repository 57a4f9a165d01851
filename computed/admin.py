"""Admin for computed attributes: builders per kind, test on a profile, activation with progress,
disable, duplicate, where-used, and the purchase-statistics set. Thin hooks over computed.services."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import action, display
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from computed import panels, selectors, services
from computed.aggregates import FUNCTIONS, PERIOD_TYPES, Period, check_period
from computed.lang.checker import FUNCTIONS as FORMULA_FUNCTIONS
from computed.models import ComputedAttribute
from computed.plans import build_plan
from config.api.parsers import loads
from people.admin.base import OwnPagesMixin, job_progress
from people.admin.lifecycle import DefinitionAdmin, validation_messages
from people.conditions.attributes import all_attributes
from people.models import Person
from people.selectors import organization_tz
from people.services import copy_field_values
from people.widgets import ConditionBuilderWidget

State = ComputedAttribute.State
# The read-only "Status" section of an attribute's page.
STATUS_FIELDS = [
    "state_badge",
    "progress",
    "output_type",
    "definition_json",
    "uses_list",
    "where_used_list",
    "out_of_range",
]


def _text(help_text: str = "", placeholder: str = "") -> forms.CharField:
    """A one-line builder field, drawn as the admin's other inputs."""
    attrs = {"placeholder": placeholder} if placeholder else {}
    return forms.CharField(
        required=False, help_text=help_text, widget=UnfoldAdminTextInputWidget(attrs=attrs)
    )


def _choice(choices: list[tuple[str, str]], help_text: str = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=choices, required=False, help_text=help_text, widget=UnfoldAdminSelectWidget
    )


class ComputedAttributeForm(forms.ModelForm):
    """One form, a builder section per kind; the definition JSON is assembled from the builder."""

    formula = forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3, "class": "font-mono"}),
        help_text="e.g. round(100 * (email_link_clicks / emails_sent), 0). "
        "Attributes and functions are listed below the form.",
    )
    function = _choice([("", "—")] + [(f, f.replace("_", " ")) for f in FUNCTIONS])
    event = _text("Event name, e.g. Order Completed.", "Order Completed")
    property = _text("Event property (dots for nested keys), or $timestamp, $weekday, $hour.", "amount")
    property_type = _choice([("", "default"), ("number", "number"), ("text", "text"), ("boolean", "boolean")])
    filters = forms.CharField(
        label="Property filters",
        required=False,
        widget=ConditionBuilderWidget(
            mode="filters",
            event_field="event",
            attrs={"rows": 4, "class": "font-mono text-xs " + UnfoldAdminTextareaWidget().attrs["class"]},
        ),
        help_text="Only events whose properties match all of these count.",
    )
    exclude = _choice(
        [("", "nothing"), ("first", "the first matching event"), ("last", "the last matching event")]
    )
    period_type = _choice([(p, p.replace("_", " ")) for p in PERIOD_TYPES])
    period_value = _text("N (days, hours or months) or a date YYYY-MM-DD for 'since'.", "30")
    rank = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10,
        help_text="For top: which rank.",
        widget=UnfoldAdminIntegerFieldWidget,
    )
    amount_property = _text("For top: ties broken by the sum of this.", "amount")
    rules = forms.CharField(
        label="Scoring rules",
        required=False,
        widget=ConditionBuilderWidget(mode="rules"),
        help_text="Each rule: a label, its points (negative to subtract) and the conditions a person "
        "must meet to get them.",
    )

    class Meta:
        model = ComputedAttribute
        fields = ["key", "name", "description", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        definition = self.instance.definition or {}
        if self.instance.pk:
            if "kind" in self.fields:
                self.fields["kind"].disabled = True
            if self.instance.kind == "formula":
                self.initial["formula"] = definition.get("formula", "")
            elif self.instance.kind == "score":
                self.initial["rules"] = json.dumps(definition.get("rules", []), indent=2)
            else:
                for name in (
                    "function",
                    "event",
                    "property",
                    "property_type",
                    "exclude",
                    "rank",
                    "amount_property",
                ):
                    self.initial[name] = definition.get(name) or ""
                self.initial["filters"] = json.dumps(definition.get("filters", []))
                period = definition.get("period") or {}
                self.initial["period_type"] = period.get("type", "lifetime")
                self.initial["period_value"] = period.get("value") or ""

    def _json(self, name: str, default):
        text = (self.cleaned_data.get(name) or "").strip()
        if not text:
            return default
        try:
            return loads(text)
        except ValueError as exc:  # JSONDecodeError, or nested too deeply
            self.add_error(name, f"Invalid JSON: {exc}")
            return default

    def definition(self) -> dict:
        data = self.cleaned_data
        kind = data.get("kind") or self.instance.kind
        if kind == "formula":
            return {"formula": data.get("formula", "")}
        if kind == "score":
            return {"rules": self._json("rules", [])}
        period: dict = {"type": data.get("period_type") or "lifetime"}
        raw = (data.get("period_value") or "").strip()
        if raw:
            period["value"] = int(raw) if raw.isascii() and raw.isdigit() else raw
        out = {
            "function": data.get("function"),
            "event": data.get("event"),
            "filters": self._json("filters", []),
            "exclude": data.get("exclude") or None,
            "period": period,
        }
        for name in ("property", "property_type", "amount_property"):
            if data.get(name):
                out[name] = data[name]
        if data.get("rank"):
            out["rank"] = data["rank"]
        return out

    def clean(self):
        data = super().clean()
        if self.instance.pk and not self.instance.is_editable:
            raise ValidationError(
                "Active and processing attributes cannot be edited: duplicate this one instead."
            )
        data["definition"] = self.definition()
        return data


@admin.register(ComputedAttribute)
class ComputedAttributeAdmin(OwnPagesMixin, DefinitionAdmin):
    form = ComputedAttributeForm
    writes = services.WRITES
    uses_field = "dependencies"
    where_used = staticmethod(selectors.where_used)
    confirm_notes = {
        "Activate": "Every profile will be processed as a job.",
        "Disable": "Values stay on the profiles but stop updating.",
        "Duplicate": "Creates an editable draft copy.",
    }
    list_display = [
        "key",
        "name",
        "kind",
        "state_badge",
        "progress",
        "output_type",
        "last_computed_at",
        "error_count",
    ]
    list_filter = ["state", "kind", "group"]
    readonly_fields = [*STATUS_FIELDS, *ComputedAttribute.HISTORY_FIELDS]
    frozen_fields = ["key", "name", "description", "kind"]
    actions = ["activate_selected", "disable_selected"]
    actions_detail = ["activate_one", "disable_one", "duplicate_one", "test_on_profile"]
    actions_list = ["create_purchase_statistics"]
    change_form_after_template = "admin/computed/reference.html"

    def get_fieldsets(self, request, obj=None):
        kind = obj.kind if obj else None
        builder = {
            "formula": ["formula"],
            "aggregate": [
                "function",
                "event",
                "property",
                "property_type",
                "filters",
                "exclude",
                "period_type",
                "period_value",
                "rank",
                "amount_property",
            ],
            "score": ["rules"],
        }
        sections = [(None, {"fields": ["key", "name", "description", "kind"]})]
        if obj is None or obj.is_editable:
            for name, fields in builder.items():
                if kind in (None, name):
                    sections.append(
                        (f"{dict(ComputedAttribute.Kind.choices)[name]} builder", {"fields": fields})
                    )
        if obj is not None:
            sections.append(("Status", {"fields": STATUS_FIELDS}))
            sections.append(("History", {"fields": list(ComputedAttribute.HISTORY_FIELDS)}))
        return sections

    @display(description="Progress")
    def progress(self, obj: ComputedAttribute) -> str:
        return job_progress(obj, running=obj.state == State.PROCESSING and bool(obj.job_id))

    @display(description="Left empty (out of range)")
    def out_of_range(self, obj: ComputedAttribute) -> str:
        if not obj.out_of_range_count:
            return "none"
        return format_html(
            "{} profile{} — {}",
            obj.out_of_range_count,
            "" if obj.out_of_range_count == 1 else "s",
            obj.out_of_range_reason or "a value outside the supported range",
        )

    def save_model(self, request, obj: ComputedAttribute, form, change):
        fields = {
            "key": form.cleaned_data["key"],
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data.get("description", ""),
            "definition": form.cleaned_data["definition"],
        }
        if change:
            saved = services.computed_attribute_update(attribute=obj, **fields)
        else:
            saved = services.computed_attribute_create(
                kind=form.cleaned_data["kind"], created_by=request.user, **fields
            )
        obj.pk = saved.pk
        copy_field_values(saved, into=obj)

    def _post_clean_errors(self, form, exc: ValidationError) -> None:
        for field, errors in (
            exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
        ):
            form.add_error(field if field in form.fields else None, "; ".join(str(e) for e in errors))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        admin_self = self

        class CheckedForm(form_class):
            def clean(self):
                data = super().clean()
                if self.errors:
                    return data
                try:
                    selectors.check_definition(
                        key=data.get("key") or self.instance.key,
                        kind=data.get("kind") or self.instance.kind,
                        definition=data["definition"],
                        exclude_pk=self.instance.pk,
                    )
                except ValidationError as exc:
                    admin_self._post_clean_errors(self, exc)
                return data

        return CheckedForm

    def deleted_message(self, obj: ComputedAttribute) -> str:
        return f"Deleted {obj.key} and its values from every profile."

    # ------------------------------------------------------------ actions

    @action(description="Test on a profile", url_path="test", permissions=["view"])
    def test_on_profile(self, request: HttpRequest, object_id: str):
        obj = ComputedAttribute.objects.get(pk=object_id)
        definition_text = request.POST.get("definition") or json.dumps(obj.definition, indent=2)
        person_id = request.POST.get("person") or request.GET.get("person") or ""
        result, error = None, ""
        person = _person_by_reference(person_id) if person_id else None
        if person_id and person is None:
            error = f"No profile with id {person_id!r}."
        elif person is not None:
            try:
                result = selectors.run_profile_test(
                    kind=obj.kind, definition=loads(definition_text), person=person
                )
                result["explanation_json"] = json.dumps(result["explanation"], indent=2, default=str)
            except ValueError as exc:  # the definition is not JSON (or nested too deeply)
                error = f"The definition is not valid JSON: {exc}"
            except ValidationError as exc:
                error = validation_messages(exc)
        return TemplateResponse(
            request,
            "admin/computed/test.html",
            {
                **self.admin_site.each_context(request),
                "obj": obj,
                "title": f"Test {obj.key} on a profile",
                "definition_text": definition_text,
                "person_id": person_id,
                "result": result,
                "error": error,
            },
        )

    @action(description="Create purchase statistics", url_path="purchase-statistics", permissions=["add"])
    def create_purchase_statistics(self, request: HttpRequest):
        if request.method != "POST":
            return TemplateResponse(
                request,
                "admin/computed/purchase_statistics.html",
                {**self.admin_site.each_context(request), "title": "Create purchase statistics"},
            )
        try:
            created = services.purchase_statistics_create(
                event=request.POST.get("event") or "Order Completed",
                amount=request.POST.get("amount") or "amount",
                category=request.POST.get("category") or "category",
                product=request.POST.get("product") or "product",
                created_by=request.user,
            )
            job = services.computed_attributes_activate(attributes=created, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(reverse("admin:computed_computedattribute_changelist"))
        url = reverse("admin:people_job_change", args=[job.pk])
        messages.success(
            request,
            format_html(
                'Created {} attributes; <a href="{}">follow activation job #{}</a>.',
                len(created),
                url,
                job.pk,
            ),
        )
        return HttpResponseRedirect(
            reverse("admin:computed_computedattribute_changelist") + "?group=purchase_statistics"
        )

    @admin.action(description="Activate selected (as one job)", permissions=["change"])
    def activate_selected(self, request, queryset):
        try:
            job = services.computed_attributes_activate(attributes=list(queryset), user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return None
        self._job_message(request, job, "Processing started")
        return None

    @admin.action(description="Disable selected", permissions=["change"])
    def disable_selected(self, request, queryset):
        done = 0
        for attribute in queryset.filter(state=State.ACTIVE):
            services.computed_attribute_disable(attribute=attribute)
            done += 1
        messages.success(request, f"Disabled {done} attribute(s).")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["attribute_reference"] = sorted(all_attributes(), key=lambda r: (r.kind, r.key))
        context["function_reference"] = list(FORMULA_FUNCTIONS.values())
        context["formula_vocabulary"] = {
            "attributes": [
                {"key": r.key, "hint": f"{r.type} · {r.kind}"} for r in context["attribute_reference"]
            ],
            "functions": [{"key": f.name, "hint": f.signature} for f in context["function_reference"]],
        }
        context["formula_preview_url"] = reverse("admin:computed_computedattribute_formula_preview")
        context["period_bounds_url"] = reverse("admin:computed_computedattribute_period_bounds")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def own_pages(self):
        return [
            ("formula-preview/", self.formula_preview, "computed_computedattribute_formula_preview"),
            ("period-bounds/", self.period_bounds, "computed_computedattribute_period_bounds"),
            ("why/", self.why_view, "computed_computedattribute_why"),
        ]

    def why_view(self, request: HttpRequest) -> JsonResponse:
        """The 360 page's "Why is … ?" of one value, worked out when opened: ``?attribute=<id>&person=<id>``
        answers ``{"html"}`` (the explanation, evaluated now); 400 ``{"error"}`` for ids that are not
        whole numbers, 404 for an attribute not shown or a profile that does not exist."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = {name: request.GET.get(name, "").strip() for name in ("attribute", "person")}
        bad = [name for name, raw in ids.items() if not (raw.isascii() and raw.isdigit() and len(raw) <= 18)]
        if bad:
            return JsonResponse(
                {"error": f"{' and '.join(bad)}: expected an id (a whole number)"}, status=400
            )
        person = Person.objects.live().filter(pk=int(ids["person"])).first()
        row = panels.why_of(person, int(ids["attribute"])) if person is not None else None
        if row is None:
            what = "profile" if person is None else "computed attribute shown on the profile page"
            return JsonResponse({"error": f"No such {what}."}, status=404)
        html = render_to_string("computed/panels/why.html", {"why": row["why"]}, request)
        return JsonResponse({"html": html})

    def period_bounds(self, request: HttpRequest) -> JsonResponse:
        """The builder's live period text: ``?type=full_days&value=30`` answers
        ``{"text", "from", "to"}`` (bounds from the engine's ``Period.bounds``), or 400
        ``{"period.value": "reason"}``."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = request.GET.get("value", "").strip()[:64]
        data = {"type": request.GET.get("type", "")}
        if raw:
            data["value"] = int(raw) if raw.isascii() and raw.isdigit() else raw
        errors: dict = {}
        period = check_period(data, errors)
        if errors:
            return JsonResponse(errors, status=400)
        tz = organization_tz()
        low, high = period.bounds(_now(), tz)
        return JsonResponse(
            {
                "text": period_text(period, _now(), tz),
                "from": low.isoformat() if low else None,
                "to": high.isoformat() if high else None,
            }
        )

    def formula_preview(self, request: HttpRequest) -> JsonResponse:
        """The formula editor's live check: the error with its position, or the output type and the
        value for a chosen profile (``person``: its id or unified id)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        formula = request.GET.get("formula", "")
        definition = {"formula": formula}
        try:
            plan = build_plan("formula", definition)
        except ValidationError as exc:
            return JsonResponse({"ok": False, "error": "; ".join(exc.messages)})
        answer: dict = {"ok": True, "output_type": plan.output_type}
        person = _person_by_reference(request.GET.get("person", ""))
        if person is not None:
            result = selectors.run_profile_test(kind="formula", definition=definition, person=person)
            answer.update({"person": str(person), "value": result["value"]})
        return JsonResponse(answer, json_dumps_params={"default": str})


def _now():
    return timezone.now()


def period_text(period: Period, now, tz) -> str:
    """What a period covers, in the organization's timezone, e.g. "1 Nov 00:00 – 30 Nov 00:00,
    Europe/Berlin; today is not included" (bounds from the engine's ``Period.bounds``)."""
    low, high = period.bounds(now, tz)
    year = now.astimezone(tz).year

    def shown(moment) -> str:
        local = moment.astimezone(tz)
        day = f"{local.day} {local:%b}" + ("" if local.year == year else f" {local.year}")
        return f"{day} {local:%H:%M}"

    if low is None and high is None:
        return "All events ever (lifetime)"
    if low is None:
        return f"All events before {shown(high)}, {tz.key}; today is not included"
    if high is None:
        moving = "; moves with the clock" if period.type == "last_hours" else "; today is included"
        return f"{shown(low)} – now, {tz.key}{moving}"
    return f"{shown(low)} – {shown(high)}, {tz.key}; today is not included"


def _person_by_reference(reference: str) -> Person | None:
    reference = reference.strip()
    if reference.isascii() and reference.isdigit():
        return Person.objects.live().filter(pk=int(reference)).first()
    try:
        return Person.objects.live().filter(uid=uuid.UUID(reference)).first()
    except ValueError:
        return None
