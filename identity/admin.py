"""The identity admin: identifier types (policy), identities, merges (unmerge, dry run), Profile API
tokens, management API tokens, suppressions, the seen-but-undefined list, per-source activity and
the event debugger."""

from __future__ import annotations

import json

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin
from rest_framework.authtoken.models import TokenProxy
from unfold.admin import ModelAdmin
from unfold.decorators import display

from identity import selectors, services, staff_tokens
from identity.models import (
    AccessToken,
    IdentifierType,
    Identity,
    InboundBatch,
    Merge,
    SeenUndefined,
    SourceDailyStat,
    SuppressedIdentifier,
)
from identity.schemas import define_attribute, infer_type
from people import services as people_services
from people.admin.base import OwnPagesMixin, ReadOnlyAdmin
from people.models import Source
from people.selectors import organization_today


def person_link(person) -> str:
    if person is None:
        return "—"
    url = reverse("admin:people_person_change", args=[person.pk])
    return format_html('<a href="{}">{}</a>', url, person)


def _event_as_stored(event) -> dict:
    """An accepted event as the debugger shows it: what was stored, with all four times."""
    times = ("timestamp", "original_timestamp", "sent_at", "received_at")
    return {
        "type": event.type,
        "event": event.name,
        "messageId": event.message_id,
        **{name: getattr(event, name).isoformat() for name in times if getattr(event, name)},
        "properties": event.properties,
        "context": event.context,
    }


@admin.register(IdentifierType)
class IdentifierTypeAdmin(ModelAdmin):
    list_display = ["key", "label", "priority", "limit", "anonymous", "normalizer", "blocked_count"]
    list_editable: list = []
    search_fields = ["key", "label"]
    ordering = ["priority", "key"]
    fieldsets = [
        (None, {"fields": ["key", "label", "anonymous", "normalizer"]}),
        (
            "Resolution policy",
            {
                "fields": ["priority", "limit", "blocked_values", "blocked_patterns"],
                "description": "Changing priority or limits affects future resolution and merges only; "
                "tightening a limit never splits profiles that already exceed it.",
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj else []

    @display(description="Blocked")
    def blocked_count(self, obj: IdentifierType) -> int:
        return len(obj.blocked_values or []) + len(obj.blocked_patterns or [])

    def save_model(self, request, obj, form, change):
        if change and "limit" in form.changed_data and obj.limit < form.initial.get("limit", obj.limit):
            messages.warning(
                request,
                f"The limit of {obj.key} was tightened to {obj.limit}: future messages and merges "
                "respect it; profiles already over it keep their identifiers.",
            )
        services.identifier_type_save(identifier_type=obj)


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = [
        "value",
        "type",
        "person_display",
        "channel",
        "anonymous",
        "first_seen_at",
        "last_seen_at",
    ]
    list_filter = ["type", "anonymous", "channel"]
    list_select_related = ["type", "person", "channel"]
    search_fields = ["=value"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Identity._meta.fields]

    @display(description="Profile")
    def person_display(self, obj: Identity) -> str:
        return person_link(obj.person)


class DryRunForm(forms.Form):
    source = forms.ModelChoiceField(queryset=Source.objects.all())
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text='A tracking message, e.g. {"type": "track", "userId": "u1", "anonymousId": "a1"}',
    )

    def clean_message(self):
        try:
            value = json.loads(self.cleaned_data["message"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("A message is a JSON object.")
        return value


@admin.register(Merge)
class MergeAdmin(OwnPagesMixin, ReadOnlyAdmin):
    change_list_template = "admin/identity/merge_changelist.html"
    list_display = ["created_at", "parent_display", "child_display", "reason", "undone_at"]
    list_filter = ["reason", ("undone_at", admin.EmptyFieldListFilter)]
    list_select_related = ["parent", "child"]
    show_full_result_count = False
    actions = ["unmerge"]
    readonly_fields = [
        "parent",
        "child",
        "reason",
        "message_id",
        "source",
        "created_at",
        "created_by",
        "undone_at",
        "undone_by",
        "snapshot_display",
    ]
    exclude = ["snapshot"]

    @display(description="Parent")
    def parent_display(self, obj: Merge) -> str:
        return person_link(obj.parent)

    @display(description="Child")
    def child_display(self, obj: Merge) -> str:
        return person_link(obj.child)

    @display(description="Snapshot")
    def snapshot_display(self, obj: Merge) -> str:
        snapshot = dict(obj.snapshot)
        for key in ("events", "identities"):
            if len(snapshot.get(key, [])) > 50:
                snapshot[key] = f"{len(snapshot[key])} ids"
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(snapshot, indent=2, default=str)
        )

    @admin.action(description="Undo selected merges (unmerge)", permissions=["delete"])
    def unmerge(self, request, queryset):
        done = 0
        for merge in queryset.filter(undone_at__isnull=True).order_by("-created_at"):
            try:
                services.merge_undo(merge=merge, actor=request.user)
                done += 1
            except ValidationError as exc:
                messages.error(request, f"Merge {merge.pk}: {exc.messages[0]}")
        if done:
            messages.success(request, f"Undid {done} merge(s).")

    def own_pages(self):
        return [("dry-run/", self.dry_run_view, "identity_merge_dry_run")]

    def dry_run_view(self, request):
        form = DryRunForm(request.POST or None)
        outcome = None
        if request.method == "POST" and form.is_valid():
            outcome = services.ingest_dry_run(
                source=form.cleaned_data["source"], message=form.cleaned_data["message"]
            )
        return TemplateResponse(
            request,
            "admin/identity/dry_run.html",
            {
                **self.admin_site.each_context(request),
                "title": "Merge dry run",
                "form": form,
                "outcome": outcome,
            },
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "dry_run_url": reverse("admin:identity_merge_dry_run")}
        return super().changelist_view(request, extra_context)


class AccessTokenForm(forms.ModelForm):
    class Meta:
        model = AccessToken
        fields = ["name", "enabled"]


@admin.register(AccessToken)
class AccessTokenAdmin(ModelAdmin):
    form = AccessTokenForm
    list_display = ["name", "masked", "enabled", "created_at", "last_used_at"]
    readonly_fields = ["token_hint", "created_at", "created_by", "last_used_at"]

    def delete_model(self, request, obj):
        services.access_tokens_delete(tokens=[obj])

    def delete_queryset(self, request, queryset):
        services.access_tokens_delete(tokens=queryset)

    @display(description="Token")
    def masked(self, obj: AccessToken) -> str:
        return f"pat_…{obj.token_hint}"

    def save_model(self, request, obj, form, change):
        if change:
            services.access_token_update(token=obj)  # a disabled token stops working at once
            return
        issued = services.access_token_create(name=obj.name, created_by=request.user)
        obj.pk = issued.token.pk
        obj.token_hash, obj.token_hint = issued.token.token_hash, issued.token.token_hint
        if not obj.enabled:
            AccessToken.objects.filter(pk=obj.pk).update(enabled=False)
        messages.warning(
            request,
            format_html("Profile API token (shown once, copy it now): <code>{}</code>", issued.raw),
        )


# --- Management API tokens (DRF authtoken, stored hashed) -------------------------------------------
# One clear name per kind of secret: "Management API tokens" (staff, /api/), "Profile API tokens"
# (read-only, /v1/spaces/...) and write keys (on each source).
apps.get_app_config("authtoken").verbose_name = "Management API"
apps.get_app_config("axes").verbose_name = "Admin login lockout"  # django-axes' attempts (docs/deployment.md)
TokenProxy._meta.verbose_name = "management API token"
TokenProxy._meta.verbose_name_plural = "management API tokens"


class ManagementTokenForm(forms.ModelForm):
    class Meta:
        model = TokenProxy
        fields = ["user"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            users = self.fields["user"].queryset.filter(is_staff=True, is_active=True)
            self.fields["user"].queryset = users.order_by("username")
            self.fields[
                "user"
            ].help_text = (
                "A staff user; the token acts with their permissions. It replaces any token they had."
            )


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ManagementTokenAdmin(BaseTokenAdmin, ModelAdmin):
    """Tokens are listed by user and date only; the secret is shown once, when it is created.
    (DRF's admin maps each row to its user's id; rows are reached by user, never by key.)"""

    form = ManagementTokenForm
    list_display = ["user", "created"]
    search_fields = ["user__username"]
    search_help_text = "Username"
    ordering = ["user__username"]
    list_select_related = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "created"] if obj else []

    def get_fields(self, request, obj=None):
        return ["user", "created"] if obj else ["user"]

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on a token can be edited
        issued = staff_tokens.management_token_create(user=obj.user)
        obj.key, obj.created = issued.token.key, issued.token.created
        messages.warning(
            request,
            format_html(
                "Management API token for {} (shown once, copy it now): <code>{}</code>",
                obj.user.get_username(),
                issued.raw,
            ),
        )

    def response_add(self, request, obj, post_url_continue=None):
        # Django's "was added" message would name the row by its key (the hash): the warning says it all.
        return HttpResponseRedirect(reverse("admin:authtoken_tokenproxy_changelist"))


class SuppressForm(forms.ModelForm):
    class Meta:
        model = SuppressedIdentifier
        fields = ["type", "value", "reason"]


@admin.register(SuppressedIdentifier)
class SuppressedIdentifierAdmin(ModelAdmin):
    form = SuppressForm
    list_display = ["value", "type", "reason", "created_at"]
    list_filter = ["type"]
    search_fields = ["=value"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        row = services.identifier_suppress(type_key=obj.type.key, value=obj.value, reason=obj.reason)
        obj.pk, obj.value = row.pk, row.value


@admin.register(SeenUndefined)
class SeenUndefinedAdmin(ModelAdmin):
    list_display = ["kind", "event_name", "key", "channel", "count", "first_seen_at", "last_seen_at"]
    list_filter = ["kind", "channel"]
    search_fields = ["event_name", "key"]
    actions = ["promote"]
    readonly_fields = [f.name for f in SeenUndefined._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(
        description="Promote to a definition (event with its seen properties, property or attribute)",
        permissions=["delete"],
    )
    def promote(self, request, queryset):
        """Events become definitions with every property they were seen with (their example and the
        property rows seen for them); the promoted rows leave the list."""
        promoted = 0
        for row in queryset:
            if row.kind == SeenUndefined.Kind.TRAIT:
                kind = infer_type(row.example)
                if kind is None or define_attribute(key=row.key, type_=kind, example=row.example) is None:
                    messages.error(request, f"Trait {row.key!r} cannot be defined automatically.")
                    continue
                row.delete()
                promoted += 1
                continue
            seen = SeenUndefined.objects.filter(event_name=row.event_name, kind=SeenUndefined.Kind.PROPERTY)
            if row.kind == SeenUndefined.Kind.PROPERTY:
                seen = seen.filter(pk=row.pk)
            properties = {
                key: infer_type(value) or "text"
                for key, value in (row.example.items() if isinstance(row.example, dict) else [])
            }
            properties.update({p.key: infer_type(p.example) or "text" for p in seen})
            try:
                with transaction.atomic():
                    people_services.event_definition_promote(name=row.event_name, properties=properties)
                    seen.delete()
                    if row.kind == SeenUndefined.Kind.EVENT:
                        row.delete()
            except ValidationError as exc:
                messages.error(request, f"{row}: {'; '.join(exc.messages)}")
                continue
            promoted += 1
        messages.success(request, f"Promoted {promoted} item(s) to definitions.")


@admin.register(InboundBatch)
class InboundBatchAdmin(ReadOnlyAdmin):
    """Requests accepted in queued mode and not processed yet, and the ones that failed."""

    list_display = ["pk", "source", "received_at", "count", "status", "attempts", "failed_at", "error_line"]
    list_filter = ["status", "source"]
    readonly_fields = [f.name for f in InboundBatch._meta.fields]
    actions = ["retry"]

    @display(description="Error")
    def error_line(self, obj: InboundBatch) -> str:
        return obj.error.strip().splitlines()[-1][:160] if obj.error else ""

    @admin.action(description="Retry (process again)", permissions=["delete"])
    def retry(self, request, queryset):
        from identity import queue

        with transaction.atomic():
            n = queue.retry(list(queryset))
        messages.success(request, f"Queued {n} batch(es) again.")


ACTIVITY_DAYS = 14


def _activity_chart(*, today, source_id: str | None) -> dict:
    """Messages per day (accepted, rejected, dropped) over the last ``ACTIVITY_DAYS`` days, of one
    source or all: a handful of rows of the daily counters, never the events."""
    from datetime import timedelta

    from django.db.models import Sum

    from people.dashboard import chart_options

    days = [today - timedelta(days=i) for i in range(ACTIVITY_DAYS - 1, -1, -1)]
    rows = SourceDailyStat.objects.filter(day__gte=days[0], day__lte=today)
    if source_id and source_id.isdigit():
        rows = rows.filter(source_id=int(source_id))
    per_day = {
        row["day"]: row
        for row in rows.values("day").annotate(a=Sum("accepted"), r=Sum("rejected"), d=Sum("dropped"))
    }
    series = [("Accepted", "a", "#10b981"), ("Rejected", "r", "#ef4444"), ("Dropped", "d", "#f59e0b")]
    data = {
        "labels": [d.strftime("%b %d") for d in days],
        "datasets": [
            {
                "label": label,
                "data": [(per_day.get(d) or {}).get(key) or 0 for d in days],
                "backgroundColor": colour,
            }
            for label, key, colour in series
        ],
    }
    return {
        "activity_days": ACTIVITY_DAYS,
        "activity_chart": json.dumps(data),
        "activity_chart_options": chart_options(x_title="Day", y_title="Messages", stacked=True),
    }


@admin.register(SourceDailyStat)
class SourceActivityAdmin(OwnPagesMixin, ReadOnlyAdmin):
    """Per source: messages accepted / rejected / dropped today, and the event debugger."""

    change_list_template = "admin/identity/source_activity.html"
    list_display = [
        "day",
        "source",
        "accepted",
        "rejected",
        "dropped",
        "suppressed",
        "duplicates",
        "debugger",
    ]
    list_filter = ["source"]
    list_select_related = ["source"]
    ordering = ["-day", "source__name"]
    readonly_fields = [f.name for f in SourceDailyStat._meta.fields]

    @display(description="Debugger")
    def debugger(self, obj: SourceDailyStat) -> str:
        return format_html(
            '<a href="{}">latest messages</a>', reverse("admin:identity_debugger", args=[obj.source_id])
        )

    def own_pages(self):
        return [
            ("debugger/", self.debugger_view, "identity_debugger_index"),
            ("debugger/<int:source_id>/", self.debugger_view, "identity_debugger"),
        ]

    def changelist_view(self, request, extra_context=None):
        today = organization_today()
        extra_context = {
            **(extra_context or {}),
            "today": today,
            "activity": selectors.source_activity(day=today),
            **_activity_chart(today=today, source_id=request.GET.get("source__id__exact")),
        }
        return super().changelist_view(request, extra_context)

    def debugger_view(self, request, source_id: int | None = None):
        """The latest messages of one source, refreshed every few seconds; without a source, the
        source picker (reachable from the sidebar)."""
        if not request.user.has_perm("identity.view_sourcedailystat"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        chosen = request.GET.get("source")
        if source_id is None and chosen and chosen.isdigit():
            return HttpResponseRedirect(reverse("admin:identity_debugger", args=[int(chosen)]))
        sources = Source.objects.select_related("channel").order_by("name")
        source = get_object_or_404(Source, pk=source_id) if source_id is not None else None
        if source is None and len(sources) == 1:
            return HttpResponseRedirect(reverse("admin:identity_debugger", args=[sources[0].pk]))
        messages_ = selectors.source_debugger(source=source) if source else {}
        for event in messages_.get("accepted", []):
            event.debug_payload = _event_as_stored(event)
        return TemplateResponse(
            request,
            "admin/identity/debugger.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Event debugger: {source.name}" if source else "Event debugger",
                "source": source,
                "sources": sources,
                "now": timezone.now(),
                **messages_,
            },
        )
