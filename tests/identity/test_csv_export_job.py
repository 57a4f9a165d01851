"""Exports as jobs: the admin's large exports (or "Run as a job") and ``POST /api/exports/`` store the
list filters, audience, columns and format on a job, write the file under the import/export folder, and
offer it for download to staff allowed to export; a table of bad inputs for each entry point."""

import csv
import io

import pytest
from rest_framework.test import APIClient

from identity.imports.exportjob import people_selected
from people.models import AttributeDefinition, Job, Person
from tests.identity import csv_fixtures

pytestmark = pytest.mark.django_db
staff = csv_fixtures.staff
PAGE = "/admin/people/import/export/"
API = "/api/exports/"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "files"
    return tmp_path / "files"


@pytest.fixture
def people(db):
    csv_fixtures.tiered_people(
        *(
            {"type": "identify", "userId": f"u{i}", "traits": {"email": f"p{i}@example.com", "tier": tier}}
            for i, tier in enumerate(["gold", "=SUM(A1)", "silver"], start=1)
        )
    )


def lines(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_a_large_admin_export_runs_as_a_job_and_its_page_offers_the_file(
    staff, people, settings, export_dir, django_capture_on_commit_callbacks
):
    # given a stream limit below the number of people the list filter selects
    settings.ATTUNE_EXPORT_STREAM_MAX_ROWS = 1
    data = {"columns": ["identifier:user_id", "tier"], "format": "csv", "filters": "q=%40example.com"}
    # when exported from the admin
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(PAGE, data)
    # then a job stores the choices and redirects to its page, which links the file
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(kind="identity.people_export")
    assert response.status_code == 302 and response["Location"] == f"{PAGE}jobs/{job.pk}/"
    assert {k: job.params[k] for k in ("columns", "format", "filters", "audience")} == {
        "columns": ["identifier:user_id", "tier"],
        "format": "csv",
        "filters": "q=%40example.com",
        "audience": "",
    }
    job.refresh_from_db()
    assert job.status == "succeeded" and (job.progress_done, job.progress_total) == (3, 3)
    assert job.result["rows"] == 3 and job.result["file_name"] == f"people-{job.pk}.csv"
    page = staff.get(response["Location"]).content.decode()
    assert f'href="{PAGE}jobs/{job.pk}/file"' in page and f"Download people-{job.pk}.csv (3 people" in page
    # and the file is the export, formulas neutralised, under the import/export folder
    download = staff.get(f"{PAGE}jobs/{job.pk}/file")
    assert download["Content-Disposition"] == f'attachment; filename="people-{job.pk}.csv"'
    assert lines(b"".join(download.streaming_content)) == [
        ["identifier:user_id", "tier"],
        ["u1", "gold"],
        ["u2", "'=SUM(A1)"],
        ["u3", "silver"],
    ]
    assert (export_dir / job.params["token"] / f"people-{job.pk}.csv").exists()


def test_the_generic_job_page_links_a_finished_exports_file(
    staff, people, django_capture_on_commit_callbacks
):
    import re

    from django.contrib.auth.models import Permission, User

    # given a finished export job of three people
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(PAGE, {"columns": ["identifier:user_id", "tier"], "format": "csv", "run": "job"})
    job = Job.objects.get()
    # when its page in the jobs list is opened
    response = staff.get(f"/admin/people/job/{job.pk}/change/")
    # then it offers the same Download link as the export's own page
    assert response.status_code == 200
    link = re.search(r'<a [^>]*href="([^"]+)"[^>]*data-download>([^<]+)</a>', response.content.decode())
    assert link is not None
    assert link.group(2).startswith(f"Download people-{job.pk}.csv (3 people, ")
    # and the link downloads the file
    download = staff.get(link.group(1))
    assert lines(b"".join(download.streaming_content)) == [
        ["identifier:user_id", "tier"],
        ["u1", "gold"],
        ["u2", "'=SUM(A1)"],
        ["u3", "silver"],
    ]
    # and staff who may see jobs but not export people see the job without the link
    viewer = User.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    other = APIClient()
    other.force_login(viewer)
    page = other.get(f"/admin/people/job/{job.pk}/change/")
    assert page.status_code == 200 and "Done." in page.content.decode()
    assert "data-download" not in page.content.decode() and "Download" not in page.content.decode()
    # and once the file is removed, the link goes too
    from identity.imports.exportjob import export_file

    export_file(job).unlink()
    assert "data-download" not in staff.get(f"/admin/people/job/{job.pk}/change/").content.decode()


def test_a_small_admin_export_still_streams(staff, people):
    response = staff.post(PAGE, {"columns": ["email"], "format": "csv"})
    assert response.status_code == 200 and not Job.objects.exists()
    assert lines(b"".join(response.streaming_content))[1:] == [
        ["p1@example.com"],
        ["p2@example.com"],
        ["p3@example.com"],
    ]


def test_run_as_a_job_writes_an_xlsx_of_the_list_search(staff, people, django_capture_on_commit_callbacks):
    import openpyxl

    # when a filtered XLSX export is run as a job
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            PAGE,
            {"columns": ["email", "tier"], "format": "xlsx", "filters": "q=p2%40example.com", "run": "job"},
        )
    job = Job.objects.get()
    # then the workbook holds the rows the list shows
    download = staff.get(f"{PAGE}jobs/{job.pk}/file")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert [list(r) for r in book.active.iter_rows(values_only=True)] == [
        ["email", "tier"],
        ["p2@example.com", "'=SUM(A1)"],
    ]


def test_the_job_file_is_only_for_staff_allowed_to_export(
    client, people, staff, django_capture_on_commit_callbacks
):
    # given a finished export job
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(PAGE, {"columns": ["email"], "format": "csv", "run": "job"})
    job = Job.objects.get()
    # when a staff user with view but not change rights asks for it
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)

    viewer.user_permissions.add(Permission.objects.get(codename="view_person"))
    other = APIClient()
    other.force_login(viewer)
    # then the admin page and the file are refused, and so is the API
    assert other.get(f"{PAGE}jobs/{job.pk}/").status_code == 403
    assert other.get(f"{PAGE}jobs/{job.pk}/file").status_code == 403
    assert other.get(f"{API}jobs/{job.pk}/file/").status_code == 403
    assert APIClient().get(f"{API}jobs/{job.pk}/file/").status_code in (401, 403)


def test_api_export_of_an_audience_then_status_and_file(api, people, django_capture_on_commit_callbacks):
    # given an audience with two of the three people
    from audiences.models import Audience, AudienceMembership

    audience = Audience.objects.create(key="vip", name="VIP", version=1)
    for person in Person.objects.exclude(email="p2@example.com"):
        AudienceMembership.objects.create(audience=audience, version=1, person=person)
    # when an export of its members is posted
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(API, {"columns": ["email", "tier"], "audience": "vip"}, format="json")
    # then the job id and the file's address answer, the job succeeds, and the file has the members
    assert response.status_code == 202, response.content
    job_id = response.json()["job"]
    assert response.json()["file"] == f"/api/exports/jobs/{job_id}/file/"
    status = api.get(f"/api/jobs/{job_id}/").json()
    assert (
        status["status"] == "succeeded"
        and status["result"]["rows"] == 2
        and status["params"]["audience"] == "vip"
    )
    file = api.get(response.json()["file"])
    assert file.status_code == 200
    assert lines(b"".join(file.streaming_content)) == [
        ["email", "tier"],
        ["p1@example.com", "gold"],
        ["p3@example.com", "silver"],
    ]


def test_api_file_of_an_unfinished_or_purged_export(api, people, export_dir):
    job = Job.objects.create(
        kind="identity.people_export",
        params={"columns": ["email"], "format": "csv", "filters": "", "audience": "", "token": "t"},
    )
    assert api.get(f"{API}jobs/{job.pk}/file/").status_code == 409
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    gone = api.get(f"{API}jobs/{job.pk}/file/")
    assert gone.status_code == 404 and "was removed" in gone.json()["detail"]


BAD = [
    ("no columns", {"format": "csv"}, "columns", "This field is required."),
    ("empty columns", {"columns": []}, "columns", "Choose at least one column."),
    ("unknown column", {"columns": ["nope"]}, "columns", "Unknown export column 'nope'."),
    ("unknown format", {"columns": ["email"], "format": "pdf"}, "format", '"pdf" is not a valid choice.'),
    ("broken filters", {"columns": ["email"], "filters": "kind__nope=1"}, "filters", "cannot be applied"),
    (
        "unknown audience",
        {"columns": ["email"], "audience": "nope"},
        "audience",
        "There is no audience 'nope'.",
    ),
    ("columns not a list", {"columns": "email"}, "columns", 'Expected a list of items but got type "str".'),
    ("NUL byte in a column", {"columns": ["em\x00ail"]}, "columns", "Null characters are not allowed."),
    ("NUL byte in filters", {"columns": ["email"], "filters": "q=a\x00b"}, "filters", "Null characters"),
    ("huge number as a column", {"columns": [10**30]}, "columns", "Unknown export column '1000000000000"),
    ("nested object as a column", {"columns": [{"a": {"b": [[[1]]]}}]}, "columns", "Not a valid string."),
    ("filters as an object", {"columns": ["email"], "filters": {"q": "a"}}, "filters", "Not a valid string."),
    ("null format", {"columns": ["email"], "format": None}, "format", "This field may not be null."),
]


def messages(errors) -> str:
    """Every message of a field's errors, a list's per-item errors included."""
    if isinstance(errors, dict):
        return " ".join(messages(e) for e in errors.values())
    if isinstance(errors, list):
        return " ".join(messages(e) for e in errors)
    return str(errors)


@pytest.mark.parametrize(("label", "body", "field", "text"), BAD, ids=[b[0] for b in BAD])
def test_api_bad_inputs_are_answered_with_the_field_and_no_job(api, people, label, body, field, text):
    response = api.post(API, body, format="json")
    assert response.status_code == 400, response.content
    assert text in messages(response.json()[field]), response.json()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("label", "url", "status"),
    [("unknown job", f"{API}jobs/999999/file/", 404), ("an import job", None, 404)],
)
def test_api_file_of_a_job_that_is_not_an_export(api, label, url, status):
    if url is None:
        url = f"{API}jobs/{Job.objects.create(kind='identity.csv_import').pk}/file/"
    assert api.get(url).status_code == status


def test_a_job_whose_starter_lost_the_right_fails_without_a_file(people, marketeer_user, export_dir):
    from people.jobrunner import run
    from people.services import job_start

    job = job_start(
        kind="identity.people_export",
        params={"columns": ["email"], "format": "csv", "filters": "", "audience": "", "token": "x"},
        created_by=marketeer_user,
    )
    marketeer_user.is_staff = False
    marketeer_user.save()
    assert run(job.pk) == "failed"
    job.refresh_from_db()
    assert "may no longer export people" in job.error and not (export_dir / "x").exists()


def test_people_selected_intersects_filters_and_audience(people, marketeer_user):
    from audiences.models import Audience, AudienceMembership

    audience = Audience.objects.create(key="all", name="All", version=1)
    for person in Person.objects.all():
        AudienceMembership.objects.create(audience=audience, version=1, person=person)
    chosen = people_selected(user=marketeer_user, filters="q=p3%40example.com", audience="all")
    assert list(chosen.values_list("email", flat=True)) == ["p3@example.com"]


def test_housekeeping_keeps_a_running_export_and_removes_an_old_finished_one(export_dir, settings):
    import os
    import time

    from identity.imports.services import import_files_purge

    settings.ATTUNE_IMPORT_KEEP_DAYS = 7
    # given two export folders written 30 days ago, one of a job still running
    for token, status in (("running", Job.Status.RUNNING), ("done", Job.Status.SUCCEEDED)):
        folder = export_dir / token
        folder.mkdir(parents=True)
        (folder / "people-1.csv").write_text("email\n")
        stamp = time.time() - 30 * 86400
        os.utime(folder / "people-1.csv", (stamp, stamp))
        Job.objects.create(kind="identity.people_export", params={"token": token}, status=status)
    # when the housekeeping purges old files
    removed = import_files_purge()
    # then only the finished export's folder is gone
    assert removed == 1 and (export_dir / "running").exists() and not (export_dir / "done").exists()


@pytest.mark.parametrize(
    ("label", "kind", "status", "path", "code"),
    [
        ("unknown job page", None, None, "", 404),
        ("unknown job file", None, None, "file", 404),
        ("an import job's page", "identity.csv_import", "succeeded", "", 404),
        ("a queued export's file", "identity.people_export", "queued", "file", 404),
        ("a removed export file", "identity.people_export", "succeeded", "file", 404),
    ],
)
def test_admin_export_job_pages_answer_bad_requests_with_404(staff, label, kind, status, path, code):
    job_id = 999999
    if kind:
        params = {"columns": ["email"], "format": "csv", "filters": "", "audience": "", "token": "gone"}
        job_id = Job.objects.create(kind=kind, status=status, params=params).pk
    assert staff.get(f"{PAGE}jobs/{job_id}/{path}").status_code == code


def test_a_queued_export_page_says_its_status_and_refreshes(staff):
    params = {"columns": ["email"], "format": "xlsx", "filters": "", "audience": "vip", "token": "t"}
    job = Job.objects.create(kind="identity.people_export", params=params, progress_total=40)
    page = staff.get(f"{PAGE}jobs/{job.pk}/").content.decode()
    assert "<b data-status>queued</b> · 0 of 40 people · XLSX, 1 column · audience <code>vip</code>" in page
    assert 'http-equiv="refresh"' in page and "data-download" not in page


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("ca_key=tier&ca_value=gold", ["p1@example.com"]),
        ("ca_key=tier&ca_value=%28any%29", ["p1@example.com", "p2@example.com", "p3@example.com"]),
        ("q=p3", []),
    ],
)
def test_people_selected_applies_the_list_filters(people, marketeer_user, filters, expected):
    chosen = people_selected(user=marketeer_user, filters=filters)
    assert sorted(chosen.values_list("email", flat=True)) == expected


def test_a_filter_value_the_list_cannot_read_is_named(api, people):
    AttributeDefinition.objects.create(key="visits", label="Visits", type="integer")
    response = api.post(API, {"columns": ["email"], "filters": "ca_key=visits&ca_value=many"}, format="json")
    assert response.status_code == 400 and "whole number" in " ".join(response.json()["filters"])
    assert not Job.objects.exists()


def test_an_export_of_a_filter_matching_nobody_is_a_header_only_file(
    api, people, django_capture_on_commit_callbacks
):
    # when the list search names nobody
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(API, {"columns": ["email"], "filters": "q=nobody%40example.org"}, format="json")
    # then the job succeeds with a file of the header alone
    assert response.status_code == 202, response.content
    file = api.get(response.json()["file"])
    assert lines(b"".join(file.streaming_content)) == [["email"]]
