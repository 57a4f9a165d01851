"""django-q2 entry points of the people app. Tasks take ids and are safe to run twice."""

from people import jobrunner


def run_job(job_id: int) -> str:
    return jobrunner.run(job_id)


def drain_changes() -> int:
    """Enqueued after a commit that changed people (``people.services.notify_people_changed``) and
    every minute: the higher apps' refreshes of the pending changes."""
    from people.services import drain_changes as drain

    return drain()
