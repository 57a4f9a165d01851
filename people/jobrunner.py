"""Long-running jobs: the registry of kinds and the runner behind ``people.tasks.run_job``.

An app declares a kind in its own ``jobs`` module (autodiscovered at start-up; ``people.jobs``
re-exports ``register`` and ``Progress``)::

    @register("people.bulk_update", label="Bulk attribute update")
    def bulk_update(job: Job, progress: Progress) -> dict:
        ...

A handler must be safe to run twice (tasks can be retried); it reports progress through
``progress.advance(n)`` and returns a JSON-able result stored on the job.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from people.models import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    kind: str
    label: str
    handler: Callable


_REGISTRY: dict[str, JobKind] = {}


def register(kind: str, *, label: str):
    def decorator(handler: Callable) -> Callable:
        _REGISTRY[kind] = JobKind(kind=kind, label=label, handler=handler)
        return handler

    return decorator


def get_handler(kind: str) -> JobKind:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise LookupError(f"Unknown job kind {kind!r}") from None


def job_label(kind: str) -> str:
    entry = _REGISTRY.get(kind)
    return entry.label if entry else kind


class Progress:
    """Writes progress with single-row UPDATEs, so the admin sees it while the job runs."""

    def __init__(self, job: Job):
        self.job = job

    def set_total(self, total: int) -> None:
        Job.objects.filter(pk=self.job.pk).update(progress_total=total)
        self.job.progress_total = total

    def advance(self, n: int = 1) -> None:
        Job.objects.filter(pk=self.job.pk).update(progress_done=F("progress_done") + n)
        self.job.progress_done += n


def stale_after() -> timedelta:
    """A running job whose worker died (killed, timed out) may be claimed again after this long."""
    from django.conf import settings

    return timedelta(seconds=settings.Q_CLUSTER.get("timeout", 1800) + 60)


def run(job_id: int) -> str:
    """Claim a queued job (or a stale running one) and run it. A second delivery of the same task
    while the job runs, or after it finished, does nothing."""
    now = timezone.now()
    claimable = Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, started_at__lt=now - stale_after())
    claimed = Job.objects.filter(claimable, pk=job_id).update(
        status=Job.Status.RUNNING, started_at=now, progress_done=0
    )
    if not claimed:
        return "already claimed"
    job = Job.objects.get(pk=job_id)
    try:
        result = get_handler(job.kind).handler(job, Progress(job))
    except Exception as exc:  # noqa: BLE001 - the job records any failure for the operator
        log.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()[-4000:]}",
        )
        return "failed"
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED, finished_at=timezone.now(), result=result or {}
    )
    return "succeeded"
