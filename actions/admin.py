"""Admin for actions: the editor (properties per channel as a table, targeting with the shared
condition builder and an audience picker, capping rules, hooks, test users), state switch, duplicate,
analysis with charts, simulation, reactions and the webhook delivery log with redelivery. Thin hooks
over services and selectors."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.decorators import action, display

from actions import forms, selectors, services
from actions.models import (
    Action,
    ActionProperty,
    AudienceWebhook,
    CappingRule,
    Hook,
    Reaction,
    TestUser,
    WebhookDelivery,
)
from people.admin.lifecycle import ServiceWrittenAdmin, validation_messages
from people.models import Person
from people.selectors import organization_today


class PropertyInline(TabularInline):
    model = ActionProperty
    form = forms.PropertyForm
    extra = 1
    verbose_name = "property"
    verbose_name_plural = (
        "Properties (a row for one channel overrides the 'every channel' row of the same name)"
    )


class CappingRuleInline(TabularInline):
    model = CappingRule
    form = forms.CappingRuleForm
    extra = 0
    verbose_name_plural = "Capping rules (hidden once any count is reached; within 0 days = ever)"


class HookInline(StackedInline):
    model = Hook
    form = forms.HookForm
    extra = 0
    verbose_name_plural = "Hooks (on a reaction and channel: store an event or call a signed webhook)"


class TestUserInline(TabularInline):
    model = TestUser
    form = forms.TestUserForm
    fields = ["person", "channel", "skip_targeting"]
    autocomplete_fields = ["person"]
    extra = 0
    verbose_name_plural = "Test users (see staging actions; 'skip targeting' gets it at once)"


@admin.register(Action)
class ActionAdmin(ServiceWrittenAdmin):
    form = forms.ActionForm
    inlines = [PropertyInline, CappingRuleInline, HookInline, TestUserInline]
    list_display = ["name", "type", "state_badge", "channel_list", "tag_list", "slot", "updated_at"]
    list_filter = ["state", "type", "allocation"]
    search_fields = ["name", "type", "slot"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "type", "tags", "state"]}),
        ("Targeting", {"fields": ["channels", "audience_ids", "trait_conditions", "context_conditions"]}),
        (
            "Time range (organization timezone; the end date is inclusive)",
            {
                "fields": [("start_date", "start_time"), ("end_date", "end_time")],
                "description": "A date bounds the range (with its time: an exact instant). Times without "
                "their date form a daily window, e.g. 09:00–17:00 every day.",
            },
        ),
        ("Adaptive allocation", {"fields": ["slot", "allocation"], "classes": ["collapse"]}),
    ]
    actions = ["make_active", "make_inactive", "make_staging", "duplicate_selected"]
    actions_detail = [
        "analysis",
        "simulate",
        "duplicate_one",
        "switch_state",
        "reactions_link",
        "deliveries_link",
    ]

    @display(description="State", label={"Active": "success", "Staging (test users only)": "warning"})
    def state_badge(self, obj: Action) -> str:
        return obj.get_state_display()

    @display(description="Channels")
    def channel_list(self, obj: Action) -> str:
        return ", ".join(obj.channels or []) or "—"

    @display(description="Tags")
    def tag_list(self, obj: Action) -> str:
        return ", ".join(obj.tags or []) or "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.action_saved(action=form.instance)

    def delete_object(self, obj: Action) -> None:
        services.action_delete(action=obj)

    def deleted_message(self, obj: Action) -> str:
        return f"Deleted {obj.name}."

    def _page(self, request, template: str, obj: Action, title: str, **context):
        return TemplateResponse(
            request,
            f"admin/actions/{template}",
            {
                **self.admin_site.each_context(request),
                "obj": obj,
                "title": title,
                "opts": self.model._meta,
                **context,
            },
        )

    # ------------------------------------------------------------ list actions

    def _set_state(self, request, queryset, state: str) -> None:
        for obj in queryset:
            services.action_set_state(action=obj, state=state)
        messages.success(request, f"{queryset.count()} action(s) set to {state}.")

    @action(description="Set active", permissions=["change"])
    def make_active(self, request, queryset):
        self._set_state(request, queryset, Action.State.ACTIVE)

    @action(description="Set inactive", permissions=["change"])
    def make_inactive(self, request, queryset):
        self._set_state(request, queryset, Action.State.INACTIVE)

    @action(description="Set staging (test users only)", permissions=["change"])
    def make_staging(self, request, queryset):
        self._set_state(request, queryset, Action.State.STAGING)

    @action(description="Duplicate", permissions=["add"])
    def duplicate_selected(self, request, queryset):
        for obj in queryset:
            services.action_duplicate(action=obj, created_by=request.user)
        messages.success(request, f"Duplicated {queryset.count()} action(s) (the copies are inactive).")

    # ------------------------------------------------------------ detail actions

    @action(description="Duplicate", url_path="duplicate", permissions=["add"])
    def duplicate_one(self, request: HttpRequest, object_id: str):
        obj = Action.objects.get(pk=object_id)
        if request.method != "POST":
            return self._page(
                request, "confirm.html", obj, "Duplicate", note="Creates an inactive copy.", verb="Duplicate"
            )
        copy = services.action_duplicate(action=obj, created_by=request.user)
        messages.success(request, f"Created the inactive copy {copy.name}.")
        return self._back(copy)

    @action(description="State", url_path="state", permissions=["change"])
    def switch_state(self, request: HttpRequest, object_id: str):
        obj = Action.objects.get(pk=object_id)
        if request.method == "POST":
            try:
                services.action_set_state(action=obj, state=request.POST.get("state", ""))
                messages.success(request, f"{obj.name} is now {obj.get_state_display().lower()}.")
            except ValidationError as exc:
                messages.error(request, validation_messages(exc))
            return self._back(obj)
        return self._page(request, "state.html", obj, f"State of {obj.name}", states=Action.State.choices)

    @action(description="Reactions", url_path="reactions", permissions=["view"])
    def reactions_link(self, request: HttpRequest, object_id: str):
        return HttpResponseRedirect(
            reverse("admin:actions_reaction_changelist") + f"?action__id__exact={object_id}"
        )

    @action(description="Webhook deliveries", url_path="deliveries", permissions=["view"])
    def deliveries_link(self, request: HttpRequest, object_id: str):
        return HttpResponseRedirect(
            reverse("admin:actions_webhookdelivery_changelist") + f"?action__id__exact={object_id}"
        )

    @action(description="Analysis", url_path="analysis", permissions=["view"])
    def analysis(self, request: HttpRequest, object_id: str):
        obj = Action.objects.get(pk=object_id)
        today = organization_today()  # the analysis's dates are the organization's
        form = forms.AnalysisForm(
            request.GET or {"start": today - timedelta(days=13), "end": today, "resolution": "day"}
        )
        result, error = None, ""
        if form.is_valid():
            try:
                result = selectors.analysis(action=obj, **form.cleaned_data)
            except ValueError as exc:
                error = str(exc)
        else:
            error = "; ".join(" ".join(v) for v in form.errors.values())
        chart = None
        if result:
            kinds = ["delivered", "shown", "hidden", "declined", "accepted"]
            chart = json.dumps(
                {
                    "labels": [s["bucket"][:16].replace("T", " ") for s in result["series"]],
                    "datasets": [{"label": k, "data": [s[k] for s in result["series"]]} for k in kinds],
                    "reach": {
                        "labels": list(result["reach"]),
                        "datasets": [
                            {"label": k, "data": [v[k] for v in result["reach"].values()]} for k in kinds
                        ],
                    },
                }
            )
        return self._page(
            request,
            "analysis.html",
            obj,
            f"Analysis of {obj.name}",
            form=form,
            result=result,
            error=error,
            chart=chart,
        )

    @action(description="Simulate", url_path="simulate", permissions=["view"])
    def simulate(self, request: HttpRequest, object_id: str):
        obj = Action.objects.get(pk=object_id)
        form = forms.SimulateForm(request.POST or None, initial={"channel": (obj.channels or [""])[0]})
        result, error, person = None, "", None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            person = _find_person(data["person"])
            if person is None:
                error = f"No profile matches {data['person']!r}."
            else:
                result = selectors.simulate(
                    action=obj,
                    person=person,
                    channel=data["channel"],
                    type=data["type"] or None,
                    tags=tuple(t.strip() for t in data["tags"].split(",") if t.strip()),
                    context=data["context"],
                    now=data["at"],
                )
        return self._page(
            request,
            "simulate.html",
            obj,
            f"Simulate {obj.name}",
            form=form,
            result=result,
            error=error,
            person=person,
        )


def _find_person(reference: str) -> Person | None:
    from identity.selectors import person_ids_by_identifier_value

    reference = reference.strip()
    found = None
    if reference.isdigit():
        found = Person.objects.filter(pk=int(reference)).first()
    if found is None:
        try:
            found = Person.objects.filter(uid=reference).first()
        except ValidationError:
            found = None
    if found is None:
        ids = person_ids_by_identifier_value(reference)
        found = Person.objects.filter(pk__in=ids).first() if ids else None
    while found is not None and found.merged_into_id:
        found = found.merged_into
    return found


@admin.register(Reaction)
class ReactionAdmin(ModelAdmin):
    list_display = ["created_at", "action", "person_link", "kind", "channel"]
    list_filter = ["kind", "channel", "action"]
    list_select_related = ["action", "person"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = ["action", "person", "channel", "kind", "created_at", "context", "properties"]

    @display(description="Person")
    def person_link(self, obj: Reaction) -> str:
        url = reverse("admin:people_person_change", args=[obj.person_id])
        label = f"{obj.person.first_name} {obj.person.last_name}".strip() or str(obj.person.uid)
        return format_html('<a href="{}">{}</a>', url, label)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "url",
        "status_badge",
        "attempts",
        "response_code",
        "latency_ms",
        "action",
    ]
    list_filter = ["status", "event", "synchronous", "action"]
    list_select_related = ["action"]
    show_full_result_count = False
    search_fields = ["url"]
    readonly_fields = [
        *("event", "url", "action", "hook", "audience_webhook", "person"),
        *selectors.DELIVERY_LOG_FIELDS,
        "body",
    ]
    actions = ["redeliver_selected"]
    actions_detail = ["redeliver_one"]
    actions_list = ["signing_key"]

    @display(
        description="Status",
        label={"Succeeded": "success", "Retrying": "warning", "Failed (gave up)": "danger"},
    )
    def status_badge(self, obj: WebhookDelivery) -> str:
        return obj.get_status_display()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @action(description="Redeliver", permissions=["view"])
    def redeliver_selected(self, request, queryset):
        for delivery in queryset:
            services.delivery_redeliver(delivery=delivery)
        messages.success(request, f"Queued {queryset.count()} redelivery(ies).")

    @action(description="Redeliver", url_path="redeliver", permissions=["view"])
    def redeliver_one(self, request: HttpRequest, object_id: str):
        delivery = WebhookDelivery.objects.get(pk=object_id)
        copy = services.delivery_redeliver(delivery=delivery)
        messages.success(request, f"Queued delivery #{copy.pk} with the same body.")
        return HttpResponseRedirect(reverse("admin:actions_webhookdelivery_change", args=[copy.pk]))

    @action(description="Signing key", url_path="signing-key", permissions=["view"])
    def signing_key(self, request: HttpRequest):
        from people.selectors import organization

        allowed = request.user.has_perm("people.manage_organization")
        if request.method == "POST" and allowed:
            if request.POST.get("do") == "rotate":
                services.signing_key_rotate()
                messages.success(
                    request, "New key in use; the previous key signs too until you finish the rotation."
                )
            elif request.POST.get("do") == "finish":
                services.signing_key_finish_rotation()
                messages.success(request, "Rotation finished: only the new key signs.")
            return HttpResponseRedirect(reverse("admin:actions_webhookdelivery_signing_key"))
        org = organization()
        return TemplateResponse(
            request,
            "admin/actions/signing_key.html",
            {
                **self.admin_site.each_context(request),
                "title": "Webhook signing key",
                "org": org,
                "allowed": allowed,
                "hint": org.webhook_signing_key[-4:] if org.webhook_signing_key else "",
                "previous_hint": org.webhook_signing_key_previous[-4:]
                if org.webhook_signing_key_previous
                else "",
            },
        )


@admin.register(AudienceWebhook)
class AudienceWebhookAdmin(ModelAdmin):
    list_display = ["name", "audience", "on_entered", "on_exited", "url", "enabled"]
    list_filter = ["enabled"]
    autocomplete_fields = ["audience"]

    def save_model(self, request, obj, form, change):
        services.audience_webhook_save(
            webhook=obj,
            **{
                f: getattr(obj, f)
                for f in ("name", "audience", "on_entered", "on_exited", "url", "extra", "enabled")
            },
        )
