"""The people app's job kinds, and the names other apps' ``jobs`` modules use to declare theirs.

The registry and the runner live in ``people.jobrunner`` (services start jobs through it); see
docs/jobs.md.
"""

from __future__ import annotations

from people.jobrunner import Progress, get_handler, job_label, register, run, stale_after
from people.models import Job
from people.services import people_bulk_write_attribute

__all__ = ["Progress", "get_handler", "job_label", "register", "run", "stale_after"]


@register("people.bulk_update", label="Bulk attribute update")
def bulk_update(job: Job, progress: Progress) -> dict:
    """params: person_ids, key, value, op ("set" or "unset")."""
    params = job.params
    progress.set_total(len(params["person_ids"]))
    changed = people_bulk_write_attribute(
        person_ids=params["person_ids"],
        key=params["key"],
        value=params.get("value"),
        op=params.get("op", "set"),
        actor=job.created_by,
        on_batch=progress.advance,
    )
    return {"changed": changed, "selected": len(params["person_ids"])}
