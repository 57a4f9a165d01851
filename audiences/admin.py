"""Admin for audiences: the visual builder (people.widgets) with a live count, activation and refresh
as jobs with progress, disable, duplicate with edit impact, members (linked to the Person 360 page),
size and entries/exits as charts, explain for a chosen person, CSV export. Thin hooks over services."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from unfold.decorators import action, display

from audiences import export, selectors, services
from audiences.models import Audience
from people.admin.base import OwnPagesMixin, job_progress
from people.admin.lifecycle import DefinitionAdmin, validation_messages
from people.models import Person
from people.services import copy_field_values
from people.widgets import ConditionBuilderWidget

State = Audience.State


class AudienceForm(forms.ModelForm):
    type = forms.ChoiceField(
        choices=Audience.Type.choices,
        widget=forms.RadioSelect,
        initial=Audience.Type.RULES,
        help_text="Fixed at creation.",
    )
    definition = forms.JSONField(
        required=False,
        widget=ConditionBuilderWidget(mode="audience", type_field="type"),
        help_text="Pick attributes, events and properties; the count updates as you build.",
    )

    class Meta:
        model = Audience
        fields = ["key", "name", "description", "type", "include_anonymous", "definition"]

    def __init__(self, *args, preview_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if "definition" in self.fields:
            self.fields["definition"].widget.preview_url = preview_url
        if self.instance.pk:
            for name in ("key", "type", "include_anonymous"):
                if name in self.fields:
                    self.fields[name].disabled = True
        if "include_anonymous" in self.fields:
            self.fields["include_anonymous"].help_text = "Also profiles known only by anonymous identifiers."


# The status fields as the page shows them (the refresh's duration in ms or s, not raw seconds).
STATUS_SHOWN = ["last_refresh_duration" if f == "last_refresh_seconds" else f for f in Audience.STATUS_FIELDS]


@admin.register(Audience)
class AudienceAdmin(OwnPagesMixin, DefinitionAdmin):
    form = AudienceForm
    writes = services.WRITES
    uses_field = "uses"
    where_used = staticmethod(services.where_used)
    confirm_notes = {
        "Activate": "Every profile will be evaluated as a job.",
        "Refresh": "The whole membership is recomputed as a job.",
        "Disable": "It stops updating and no longer counts anywhere.",
        "Duplicate": "Creates an editable draft; it shows +N / −M against this one.",
    }
    list_display = [
        "key",
        "name",
        "type",
        "state_badge",
        "progress",
        "member_count",
        "last_refreshed_at",
        "error_count",
    ]
    list_filter = ["state", "type", "include_anonymous"]
    readonly_fields = [
        "state_badge",
        "progress",
        *STATUS_SHOWN,
        "uses_list",
        "where_used_list",
        "duplicated_from",
        "created_at",
        "created_by",
        "activated_at",
        "activated_by",
    ]
    frozen_fields = ["key", "name", "description", "type", "include_anonymous", "definition_json"]
    actions_detail = ["activate_one", "refresh_one", "duplicate_one", "disable_one", "export_one"]
    change_form_outer_after_template = "admin/audiences/audience_page.html"

    def get_fieldsets(self, request, obj=None):
        definition = "definition" if obj is None or obj.is_editable else "definition_json"
        sections = [
            (None, {"fields": ["key", "name", "description", "type", "include_anonymous", definition]})
        ]
        if obj is not None:
            sections.append(
                (
                    "Status",
                    {
                        "fields": [
                            "state_badge",
                            "progress",
                            *STATUS_SHOWN,
                            "uses_list",
                            "where_used_list",
                            "duplicated_from",
                        ]
                    },
                )
            )
            sections.append(
                ("History", {"fields": ["created_at", "created_by", "activated_at", "activated_by"]})
            )
        return sections

    @display(description="Last refresh took")
    def last_refresh_duration(self, obj) -> str:
        seconds = obj.last_refresh_seconds
        if seconds is None:
            return "-"
        return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and not obj.is_editable:
            kwargs.update(form=forms.ModelForm, fields=[])
            return super().get_form(request, obj, change, **kwargs)
        form_class = super().get_form(request, obj, change, **kwargs)
        preview_url = reverse("admin:audiences_audience_preview")

        class Form(form_class):
            def __init__(self, *args, **kw):
                kw["preview_url"] = preview_url
                super().__init__(*args, **kw)

            def clean(self):
                data = super().clean()
                if self.errors:
                    return data
                try:
                    services.validate(
                        audience_type=data.get("type") or self.instance.type,
                        definition=data.get("definition"),
                        include_anonymous=bool(data.get("include_anonymous")),
                        key=data.get("key") or self.instance.key,
                        pk=self.instance.pk,
                    )
                except ValidationError as exc:
                    self.add_error("definition", validation_messages(exc))
                return data

        return Form

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self.page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def page_context(self, request, obj: Audience) -> dict:
        members = list(selectors.current_members(obj)[:50])
        daily = selectors.daily_changes(obj)
        sizes = selectors.size_over_time(obj)
        peak_daily = max([max(d["entered"], d["exited"]) for d in daily] or [1]) or 1
        peak_size = max([s["member_count"] for s in sizes] or [1]) or 1
        for d in daily:
            d["entered_pct"] = round(100 * d["entered"] / peak_daily)
            d["exited_pct"] = round(100 * d["exited"] / peak_daily)
        for s in sizes:
            s["pct"] = max(1, round(100 * s["member_count"] / peak_size))
        explain, explain_error, explain_person = None, "", None
        reference = request.GET.get("explain", "").strip()
        if reference:
            person = Person.objects.filter(pk=int(reference)).first() if reference.isdigit() else None
            if person is None:
                explain_error = f"No profile with id {reference!r}."
            else:
                try:
                    explain = selectors.explain(obj, person)
                    explain_person = person
                except Exception as exc:  # noqa: BLE001 - shown to the marketer, never a 500
                    explain_error = f"Cannot explain: {exc}"
        impact = None
        if obj.duplicated_from_id and obj.state == State.DRAFT:
            try:
                impact = selectors.impact(obj)
            except Exception as exc:  # noqa: BLE001
                impact = {"error": str(exc)}
        return {
            "audience": obj,
            "members": members,
            "daily": daily,
            "sizes": sizes,
            "explain": explain,
            "explain_json": json.dumps(explain, indent=2, default=str) if explain else "",
            "explain_error": explain_error,
            "explain_person": explain_person,
            "explain_reference": reference,
            "impact": impact,
            "export_url": reverse("admin:audiences_audience_export", args=[obj.pk]),
            "export_columns": export.FIXED,
        }

    @display(description="Progress")
    def progress(self, obj: Audience) -> str:
        return job_progress(obj, running=bool(obj.job_id) and obj.job.status in ("queued", "running"))

    def save_model(self, request, obj: Audience, form, change):
        data = form.cleaned_data
        if change and not obj.is_editable:
            return  # nothing to save: only drafts are edited
        if change:
            saved = services.audience_update(
                audience=obj,
                name=data["name"],
                description=data.get("description", ""),
                definition=data["definition"],
            )
        else:
            saved = services.audience_create(
                key=data["key"],
                name=data["name"],
                description=data.get("description", ""),
                audience_type=data["type"],
                include_anonymous=bool(data.get("include_anonymous")),
                definition=data["definition"],
                user=request.user,
            )
        obj.pk = saved.pk
        copy_field_values(saved, into=obj)

    def deleted_message(self, obj: Audience) -> str:
        return f"Deleted the audience {obj.key}; its key will not be reused."

    # ------------------------------------------------------------ actions

    @action(description="Refresh", url_path="refresh", permissions=["change"])
    def refresh_one(self, request: HttpRequest, object_id: str):
        return self._start_job(request, object_id, "Refresh", services.audience_refresh, "Refresh started")

    @action(description="Export CSV", url_path="export-form", permissions=["view"])
    def export_one(self, request: HttpRequest, object_id: str):
        return HttpResponseRedirect(reverse("admin:audiences_audience_change", args=[object_id]) + "#export")

    def own_pages(self):
        return [
            ("preview/", self.preview_view, "audiences_audience_preview"),
            ("<int:object_id>/export.csv", self.export_view, "audiences_audience_export"),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The builder's live count: ``POST {"type", "include_anonymous", "definition"}``."""
        if not self.has_view_permission(request) or request.method != "POST":
            raise PermissionDenied
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return JsonResponse({"definition": ["expected JSON"]}, status=400)
        if not isinstance(body, dict):
            return JsonResponse({"definition": ["expected an object"]}, status=400)
        try:
            compiled = services.validate(
                audience_type=body.get("type") or "rules",
                definition=body.get("definition"),
                include_anonymous=bool(body.get("include_anonymous")),
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"definition": exc.messages}
            return JsonResponse(errors, status=400)
        return JsonResponse(selectors.preview(compiled), json_dumps_params={"default": str})

    def export_view(self, request: HttpRequest, object_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = Audience.objects.get(pk=object_id)
        columns = [c for c in request.GET.getlist("columns") if c] or ["uid", "email_sha256"]
        extra = [c.strip() for c in request.GET.get("attributes", "").split(",") if c.strip()]
        columns += extra
        try:
            export.check_columns(columns)
        except ValidationError as exc:
            messages.error(request, validation_messages(exc))
            return self._back(obj)
        response = StreamingHttpResponse(export.stream_csv(obj, columns), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{obj.key}.csv"'
        return response
