"""Admin for privacy: requests (list with status and progress, new request by identifier, result
download, receipt, cancel), suppressed profiles, tombstone counts and the audit log.
Thin hooks over ``privacy.services``."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.decorators import display

from people.admin.base import OwnPagesMixin, progress_bar
from people.admin.base import ReadOnlyAdmin as BaseReadOnlyAdmin
from privacy import selectors, services
from privacy.api.views import export_response
from privacy.models import AuditEntry, PrivacyRequest, RequestKind, RequestStatus, Suppression, Tombstone
from privacy.selectors import SubjectError, normalize_identities, parse_identifier

STATUS_COLOURS = {
    "pending": "info",
    "in_progress": "warning",
    "completed": "success",
    "failed": "danger",
    "cancelled": "info",
}


class PrivacyRequestForm(forms.ModelForm):
    """A new request: its type and the subject's identifiers, one ``type:value`` per line."""

    identifiers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, as type:value — e.g. email:ann@example.com or user_id:42. "
        "The request covers the whole profile they resolve to, its identities and merged profiles.",
    )

    class Meta:
        model = PrivacyRequest
        fields = ["kind", "regulation", "identifiers"]
        labels = {"kind": "Request type"}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.identities: list[dict] = []

    def clean_identifiers(self) -> str:
        raw = self.cleaned_data["identifiers"]
        lines = [line.strip() for line in raw.splitlines() if line.strip()]
        try:
            parsed = [parse_identifier(line) for line in lines]
            self.identities = normalize_identities(parsed)
        except SubjectError as exc:
            message = str(exc)
            for position, line in enumerate(lines):
                message = message.replace(f"identities[{position}]", f"line {position + 1} ({line})")
            raise ValidationError(message) from None
        return raw

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if self.user is not None and not services.can_request(self.user, kind):
            raise ValidationError(
                "You may not run erasure requests: an Admin can grant you 'Can run erasure requests'."
                if kind == RequestKind.ERASURE
                else "You may not create privacy requests."
            )
        return kind


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(OwnPagesMixin, ModelAdmin):
    form = PrivacyRequestForm
    list_display = [
        "short_id",
        "kind",
        "status_badge",
        "progress_bar",
        "received_at",
        "completed_at",
        "requested",
        "links",
    ]
    list_filter = ["kind", "status", "requested_via"]
    search_fields = ["subject_request_id"]
    show_full_result_count = False
    list_select_related = ["requested_by"]
    change_form_before_template = "admin/privacy/privacyrequest/detail.html"
    readonly_fields = [
        "subject_request_id",
        "kind",
        "regulation",
        "status_badge",
        "progress_bar",
        "submitted_time",
        "received_at",
        "started_at",
        "completed_at",
        "requested",
        "error",
    ]

    def get_queryset(self, request):
        # The export result can be large; the list and detail read it only to download it.
        return super().get_queryset(request).defer("result")

    def get_fields(self, request, obj=None):
        return ["kind", "regulation", "identifiers"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class WithUser(form_class):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=user, **inner)

        return WithUser

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # requests are the record; cancel a pending one instead

    def save_model(self, request, obj, form, change):
        created = services.request_create(
            kind=form.cleaned_data["kind"],
            identities=form.identities,
            regulation=form.cleaned_data["regulation"],
            requested_by=request.user,
            via="admin",
        )
        obj.pk = created.pk
        obj.subject_request_id = created.subject_request_id

    def own_pages(self):
        return [
            ("<int:pk>/download/", self.download_view, "privacy_privacyrequest_download"),
            ("<int:pk>/receipt/", self.receipt_view, "privacy_privacyrequest_receipt"),
            ("<int:pk>/cancel/", self.cancel_view, "privacy_privacyrequest_cancel"),
        ]

    def _get(self, request: HttpRequest, pk: int) -> PrivacyRequest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(PrivacyRequest, pk=pk)

    def download_view(self, request: HttpRequest, pk: int):
        return export_response(self._get(request, pk), request.GET.get("as", "json"))

    def receipt_view(self, request: HttpRequest, pk: int):
        obj = self._get(request, pk)
        if not obj.receipt:
            messages.error(request, "This request has no deletion receipt.")
            return HttpResponseRedirect(reverse("admin:privacy_privacyrequest_change", args=[pk]))
        response = HttpResponse(json.dumps(obj.receipt, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="receipt-{obj.subject_request_id}.json"'
        if obj.receipt_signature:
            response["X-Attune-Signature"] = obj.receipt_signature
        return response

    def cancel_view(self, request: HttpRequest, pk: int):
        obj = self._get(request, pk)
        if request.method == "POST":
            if not request.user.has_perm("privacy.change_privacyrequest"):
                raise PermissionDenied
            try:
                services.request_cancel(request=obj, actor=request.user)
                messages.success(request, "The request was cancelled.")
            except ValidationError as exc:
                messages.error(request, exc.messages[0])
        return HttpResponseRedirect(reverse("admin:privacy_privacyrequest_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = extra_context or {}
        if obj is not None:
            extra["privacy_request"] = obj
            extra["receipt_json"] = json.dumps(obj.receipt, indent=2) if obj.receipt else ""
            extra["results_available"] = (
                obj.is_export and obj.status == RequestStatus.COMPLETED and obj.results_expire_at is not None
            )
        return super().change_view(request, object_id, form_url, extra)

    @display(description="Request")
    def short_id(self, obj: PrivacyRequest) -> str:
        return str(obj.subject_request_id)[:8]

    @display(description="Status", label=STATUS_COLOURS)
    def status_badge(self, obj: PrivacyRequest) -> str:
        return obj.status

    @display(description="Progress")
    def progress_bar(self, obj: PrivacyRequest) -> str:
        return progress_bar(obj, min_width="8rem", counts=False)

    @display(description="Asked by")
    def requested(self, obj: PrivacyRequest) -> str:
        who = obj.requested_by.get_username() if obj.requested_by else "—"
        return f"{who} ({obj.requested_via})"

    @display(description="Results")
    def links(self, obj: PrivacyRequest) -> str:
        if obj.status != RequestStatus.COMPLETED:
            return "—"
        if obj.is_export:
            url = reverse("admin:privacy_privacyrequest_download", args=[obj.pk])
            return format_html('<a href="{}">JSON</a> · <a href="{}?as=csv">CSV</a>', url, url)
        if obj.kind == RequestKind.ERASURE:
            return format_html(
                '<a href="{}">receipt</a>', reverse("admin:privacy_privacyrequest_receipt", args=[obj.pk])
            )
        return "—"


class ReadOnlyAdmin(BaseReadOnlyAdmin):
    """Read-only, and nothing deleted by hand either (the audit trail of requests)."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    """Suppressed profiles. Suppress or lift through a privacy request (suppression / unsuppression)."""

    list_display = ["person_link", "identities", "created_at", "created_by", "request"]
    list_select_related = ["person", "created_by", "request"]

    @display(description="Profile")
    def person_link(self, obj: Suppression) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:people_person_change", args=[obj.person_id]), obj.person
        )

    @display(description="Identities")
    def identities(self, obj: Suppression) -> int:
        return obj.person.identities.count()


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyAdmin):
    """Salted hashes of erased identifiers, counted per identifier type."""

    list_display = ["identifier_type", "short_digest", "created_at", "request"]
    list_filter = ["identifier_type"]
    list_select_related = ["request"]
    show_full_result_count = False
    change_list_template = "admin/privacy/tombstone/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra = extra_context or {}
        extra["tombstone_counts"] = selectors.tombstone_counts()
        return super().changelist_view(request, extra)

    @display(description="Hash")
    def short_digest(self, obj: Tombstone) -> str:
        return obj.digest[:16] + "…"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "request_uuid", "kind", "action", "actor", "detail_summary"]
    list_filter = ["kind", "action"]
    search_fields = ["request_uuid"]
    show_full_result_count = False

    @display(description="Detail")
    def detail_summary(self, obj: AuditEntry) -> str:
        detail = dict(obj.detail or {})
        counts = detail.pop("counts", None)
        text = ", ".join(f"{k}: {v}" for k, v in detail.items())
        if counts:
            text += (", " if text else "") + ", ".join(f"{k.split('.')[-1]} {v}" for k, v in counts.items())
        return text
