"""Jobs: long work with a progress bar."""

from __future__ import annotations

from django.contrib import admin
from unfold.decorators import display

from people.admin.base import ReadOnlyAdmin, progress_bar
from people.models import (
    Job,
)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind_label",
        "status_badge",
        "progress_bar",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    readonly_fields = [
        "kind",
        "status",
        "progress_bar",
        "params_summary",
        *Job.OUTCOME_FIELDS,
    ]
    fields = readonly_fields
    change_form_before_template = "admin/people/job/refresh.html"

    def get_queryset(self, request):
        # params can hold many person ids (bulk updates): the list does not need them.
        queryset = super().get_queryset(request).select_related("created_by")
        return (
            queryset.defer("params") if request.resolver_match.url_name.endswith("changelist") else queryset
        )

    @display(description="Kind")
    def kind_label(self, obj: Job) -> str:
        from people.jobs import job_label

        return job_label(obj.kind)

    @display(
        description="Status",
        label={"queued": "info", "running": "warning", "succeeded": "success", "failed": "danger"},
    )
    def status_badge(self, obj: Job) -> str:
        return obj.status

    @display(description="Progress")
    def progress_bar(self, obj: Job) -> str:
        return progress_bar(obj)

    @display(description="Parameters")
    def params_summary(self, obj: Job) -> str:
        params = dict(obj.params)
        ids = params.pop("person_ids", None)
        if ids is not None:
            params["people"] = f"{len(ids)} selected"
        return ", ".join(f"{k}={v!r}" for k, v in params.items())
