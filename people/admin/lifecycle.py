"""What the admins of definitions written by services share (computed attributes, audiences, actions):
deletion through a service that may refuse, the way back to an object's page, the confirmation page of
a detail action, and the status fields of a definition with a lifecycle (``people.models.Definition``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from people.definitions import DefinitionWrites
from people.models import Definition, Job


def validation_messages(exc: ValidationError) -> str:
    """A ValidationError as one line of an admin message: ``field: message`` per field of an error
    dict, else its messages."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


class ServiceWrittenAdmin(ModelAdmin):
    """A ModelAdmin whose objects a service deletes (``delete_object``: by default the ``delete`` of
    ``writes``); when the service refuses, the reason shows on the object's page, else
    ``deleted_message`` on the list."""

    writes: DefinitionWrites

    def delete_object(self, obj: models.Model) -> None:
        self.writes.delete(**self.writes.of(obj))

    def deleted_message(self, obj: models.Model) -> str:
        raise NotImplementedError

    def has_add_permission(self, request, obj=None):  # detail actions pass the object
        return super().has_add_permission(request)

    def delete_model(self, request, obj):
        self.delete_object(obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "POST":
            try:
                self.delete_object(obj)
            except ValidationError as exc:
                messages.error(request, validation_messages(exc))
                return self._back(obj)
            messages.success(request, self.deleted_message(obj))
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        return super().delete_view(request, object_id, extra_context)

    def _back(self, obj: models.Model) -> HttpResponseRedirect:
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )


class DefinitionAdmin(ServiceWrittenAdmin):
    """The admin of a ``Definition``: its state badge, its definition as JSON, what it uses (the
    many-to-many field ``uses_field``) and where it is used (``where_used``, a staticmethod), detail
    actions confirmed on the app's ``admin/<app>/confirm.html`` with the note ``confirm_notes`` has for
    their verb (among them activate, disable and duplicate, through ``writes``), and the link to the job an
    action started."""

    uses_field: str
    where_used: Callable[[Any], list[str]]
    confirm_notes: dict[str, str]
    # Read-only too once the definition is no longer editable (active, processing or disabled).
    frozen_fields: list[str] = []
    search_fields = ["key", "name"]
    list_select_related = ["job"]  # the progress column reads the definition's job

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and not obj.is_editable:
            fields += self.frozen_fields
        return fields

    @display(description="State", label={"Active": "success", "Processing": "warning", "Disabled": "danger"})
    def state_badge(self, obj: Definition) -> str:
        return obj.get_state_display()

    @display(description="Definition")
    def definition_json(self, obj: Definition) -> str:
        return format_html(
            "<pre class='text-xs whitespace-pre-wrap'>{}</pre>", json.dumps(obj.definition, indent=2)
        )

    @display(description="Uses")
    def uses_list(self, obj: Definition) -> str:
        return ", ".join(getattr(obj, self.uses_field).values_list("key", flat=True)) or "—"

    @display(description="Used by (where used)")
    def where_used_list(self, obj: Definition) -> str:
        return "; ".join(self.where_used(obj)) or "nothing"

    def _confirm(self, request: HttpRequest, obj: Definition, verb: str) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/{self.model._meta.app_label}/confirm.html",
            {
                **self.admin_site.each_context(request),
                "obj": obj,
                "verb": verb,
                "note": self.confirm_notes[verb],
                "title": verb,
            },
        )

    def _confirmed(
        self, request: HttpRequest, object_id: str, verb: str, act: Callable[[Definition], Definition]
    ) -> HttpResponse:
        """A detail action: its confirmation page on GET; on POST ``act(obj)`` (which says what it did)
        and the page of the definition it returns, or ``obj``'s page with why the service refused."""
        obj = self.model.objects.get(pk=object_id)
        if request.method != "POST":
            return self._confirm(request, obj, verb)
        try:
            shown = act(obj)
        except ValidationError as exc:
            messages.error(request, validation_messages(exc))
            return self._back(obj)
        return self._back(shown)

    def _start_job(self, request: HttpRequest, object_id: str, verb: str, start, started: str):
        """Start the job ``start(<definition>=, user=)`` and link to it (``started`` names what began)."""

        def act(obj: Definition) -> Definition:
            self._job_message(request, start(**self.writes.of(obj), user=request.user), started)
            return obj

        return self._confirmed(request, object_id, verb, act)

    @action(description="Activate", url_path="activate", permissions=["change"])
    def activate_one(self, request: HttpRequest, object_id: str):
        return self._start_job(request, object_id, "Activate", self.writes.activate, "Processing started")

    @action(description="Disable", url_path="disable", permissions=["change"])
    def disable_one(self, request: HttpRequest, object_id: str):
        def act(obj: Definition) -> Definition:
            self.writes.disable(**self.writes.of(obj))
            messages.success(request, f"{obj.key} is disabled.")
            return obj

        return self._confirmed(request, object_id, "Disable", act)

    @action(description="Duplicate", url_path="duplicate", permissions=["add"])
    def duplicate_one(self, request: HttpRequest, object_id: str):
        def act(obj: Definition) -> Definition:
            copy = self.writes.duplicate(**self.writes.of(obj), **self.writes.by(request.user))
            messages.success(request, f"Created the draft {copy.key}.")
            return copy

        return self._confirmed(request, object_id, "Duplicate", act)

    def _job_message(self, request: HttpRequest, job: Job, text: str) -> None:
        url = reverse("admin:people_job_change", args=[job.pk])
        messages.success(request, format_html('{}: <a href="{}">follow job #{}</a>.', text, url, job.pk))
