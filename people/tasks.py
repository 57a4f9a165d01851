"""django-q2 entry points of the people app. Tasks take ids and are safe to run twice."""

from people import jobrunner


def run_job(job_id: int) -> str:
    return jobrunner.run(job_id)
