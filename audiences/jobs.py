"""Job kinds of the audiences app (autodiscovered by people.jobs)."""

from __future__ import annotations

from people.jobs import Progress, register
from people.models import Job


@register("audiences.activate", label="Activate an audience")
def activate(job: Job, progress: Progress) -> dict:
    """params: audience_id. Computes the membership over every profile, then marks it active."""
    from audiences.services import run_activation

    progress.set_total(100)
    audience = run_activation(job.params["audience_id"], progress=progress)
    return {"audience": audience.key, "state": audience.state, "member_count": audience.member_count}


@register("audiences.refresh", label="Refresh an audience")
def refresh(job: Job, progress: Progress) -> dict:
    """params: audience_id. Recomputes the whole membership (a failure keeps the previous one)."""
    from audiences.models import Audience
    from audiences.services import refresh as refresh_audience

    progress.set_total(100)
    audience = Audience.objects.get(pk=job.params["audience_id"])
    result = refresh_audience(audience, progress=progress)
    if result.error:
        raise RuntimeError(result.error)
    return {
        "audience": audience.key,
        "member_count": result.member_count,
        "entered": result.entered,
        "exited": result.exited,
    }
