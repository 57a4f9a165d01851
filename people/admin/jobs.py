"""Jobs: long work with a progress bar."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.http import HttpRequest
from unfold.decorators import display

from people.admin.base import ReadOnlyAdmin, progress_bar
from people.models import (
    Job,
)

# A job kind's link to what it produced (an export's file): ``(text, url)`` for this user, or None.
ResultLink = Callable[[HttpRequest, Job], "tuple[str, str] | None"]
_RESULT_LINKS: dict[str, ResultLink] = {}


def register_result_link(kind: str) -> Callable[[ResultLink], ResultLink]:
    """Declare the link a finished job of ``kind`` shows on its job page (higher apps register theirs;
    the function checks the user's permission and returns None when there is nothing to show)."""

    def decorator(function: ResultLink) -> ResultLink:
        _RESULT_LINKS[kind] = function
        return function

    return decorator


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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        link = _RESULT_LINKS.get(job.kind) if job is not None and job.status == Job.Status.SUCCEEDED else None
        if link is not None:
            extra_context = {**(extra_context or {}), "result_link": link(request, job)}
        return super().change_view(request, object_id, form_url, extra_context)

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
