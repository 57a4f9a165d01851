"""django-q2 entry points of the people app. Tasks take ids and are safe to run twice."""

from people import jobs


def run_job(job_id: int) -> str:
    return jobs.run(job_id)
