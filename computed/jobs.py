"""Job kinds of the computed app (autodiscovered by people.jobs)."""

from __future__ import annotations

from people.jobs import Progress, register
from people.models import Job


@register("computed.activate", label="Activate computed attributes")
def activate(job: Job, progress: Progress) -> dict:
    """params: attribute_ids. Processes every profile, then marks the attributes active."""
    from computed.services import run_activation

    attributes = run_activation(job.params["attribute_ids"], user=job.created_by, progress=progress)
    return {"attributes": [{"key": a.key, "state": a.state} for a in attributes]}
