"""Jobs run on django-q2 (sync in tests), report progress, record failures and are safe to run twice."""

import pytest

from people import jobs
from people.models import Job
from people.services import job_start
from people.tasks import run_job

pytestmark = pytest.mark.django_db


@jobs.register("tests.count_to", label="Count to N")
def count_to(job, progress):
    progress.set_total(job.params["n"])
    for _ in range(job.params["n"]):
        progress.advance()
    return {"counted": job.params["n"]}


@jobs.register("tests.explode", label="Always fails")
def explode(job, progress):
    raise RuntimeError("the disk is full")


def test_job_runs_after_commit_and_reports_progress(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="tests.count_to", params={"n": 3})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.progress_percent) == (3, 3, 100)
    assert job.result == {"counted": 3}
    assert job.started_at and job.finished_at


def test_running_a_job_twice_does_nothing_the_second_time():
    job = Job.objects.create(kind="tests.count_to", params={"n": 2})
    assert run_job(job.pk) == "succeeded"
    assert run_job(job.pk) == "already claimed"
    job.refresh_from_db()
    assert job.progress_done == 2


def test_a_failing_job_records_the_error():
    job = Job.objects.create(kind="tests.explode")
    assert run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "RuntimeError: the disk is full" in job.error


def test_unknown_kind_is_refused_at_start():
    with pytest.raises(LookupError):
        job_start(kind="tests.nope")


def test_a_job_whose_worker_died_is_claimed_again_after_the_timeout():
    from datetime import timedelta

    from django.utils import timezone

    # given a job left "running" by a worker killed long ago
    job = Job.objects.create(
        kind="tests.count_to",
        params={"n": 1},
        status=Job.Status.RUNNING,
        started_at=timezone.now() - jobs.stale_after() - timedelta(minutes=1),
    )
    # when the task is delivered again
    assert run_job(job.pk) == "succeeded"
    # then it ran; a job running for a short while is left alone
    fresh = Job.objects.create(
        kind="tests.count_to", params={"n": 1}, status=Job.Status.RUNNING, started_at=timezone.now()
    )
    assert run_job(fresh.pk) == "already claimed"
