"""The organization's settings, channels and sources (write keys shown once)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from people import extensions, selectors, services
from people.models import (
    Channel,
    OrganizationSettings,
    Source,
)


@admin.register(OrganizationSettings)
class OrganizationSettingsAdmin(ModelAdmin):
    list_display = ["name", "timezone", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not OrganizationSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        services.organization_settings_update(
            organization=obj, **{name: form.cleaned_data[name] for name in form.changed_data}
        )

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        org = selectors.organization()
        return HttpResponseRedirect(reverse("admin:people_organizationsettings_change", args=[org.pk]))


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    list_display = ["name", "key", "schema_enforcement", "created_at"]
    search_fields = ["name", "key"]

    def get_readonly_fields(self, request, obj=None):
        return ["key", "created_at"] if obj else ["created_at"]


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = ["name", "channel", "protection", "priority", "enabled"]


@admin.register(Source)
class SourceAdmin(ModelAdmin):
    form = SourceForm
    list_display = [
        "name",
        "channel",
        "protection",
        "priority",
        "enabled",
        "masked_write_key",
        "key",
        "links",
    ]
    list_filter = ["channel", "protection", "enabled"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "masked_write_key", "created_at", "key_rotated_at", "links"]
    actions_detail = ["rotate_write_key"]

    @display(description="See also")
    def links(self, obj: Source) -> str:
        if obj.pk is None:
            return ""
        pairs = [link(obj) for link in extensions.source_links.values()]
        return format_html_join(
            " · ", '<a class="text-primary-600" href="{}">{}</a>', ((u, t) for t, u in pairs)
        )

    @display(description="Write key")
    def masked_write_key(self, obj: Source) -> str:
        return f"••••{obj.write_key_hint}" if obj.write_key_hint else ""

    def save_model(self, request, obj: Source, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        write_key = services.source_issue_write_key(source=obj)
        super().save_model(request, obj, form, change)
        self._show_key_once(request, obj, write_key)

    @action(description="Rotate write key", url_path="rotate-write-key", permissions=["change"])
    def rotate_write_key(self, request: HttpRequest, object_id: str):
        source = Source.objects.get(pk=object_id)
        if request.method != "POST":
            return TemplateResponse(
                request,
                "admin/people/source/rotate_confirm.html",
                {**self.admin_site.each_context(request), "source": source, "title": "Rotate write key"},
            )
        credentials = services.source_rotate_write_key(source=source)
        self._show_key_once(request, source, credentials.write_key)
        return HttpResponseRedirect(reverse("admin:people_source_change", args=[source.pk]))

    @staticmethod
    def _show_key_once(request, source: Source, write_key: str) -> None:
        messages.warning(
            request,
            format_html(
                "Write key for <b>{}</b> (shown once, copy it now): <code>{}</code> &nbsp; "
                "mParticle-style key:secret: <code>{}:{}</code>",
                source.name,
                write_key,
                source.key,
                write_key,
            ),
        )
