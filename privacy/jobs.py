"""Privacy's job kinds (people's job runner, see docs/jobs.md)."""

from __future__ import annotations

from people.jobs import Progress, register
from people.models import Job


@register("privacy.process_request", label="Privacy request")
def process_request(job: Job, progress: Progress) -> dict:
    """params: request_id. A request that is no longer pending (cancelled, done) is skipped."""
    from privacy.services import request_process

    return request_process(request_id=job.params["request_id"], job_progress=progress)
