"""The management API of people imports: upload, preview, start, status (``/api/jobs/``), rejected
rows; a table of bad inputs answered with the field (never a 500, nothing written)."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from identity.models import Identity
from identity.staff_tokens import management_token_create
from people.models import Job, Person

pytestmark = pytest.mark.django_db
URL = "/api/imports/"
FILE = b"email,first_name,Loyalty tier\nada@example.com,Ada,gold\nnot-an-email,Bo,silver\n"
MAPPING = {
    "columns": {"email": "id:email", "first_name": "attr:first_name", "Loyalty tier": "new:text"},
    "match_key": "email",
}


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {management_token_create(user=admin_user).raw}")
    return client


def upload(api, content: bytes = FILE, name: str = "people.csv"):
    return api.post(URL, {"file": SimpleUploadedFile(name, content)}, format="multipart")


def test_upload_preview_start_status_and_rejected_rows(api, django_capture_on_commit_callbacks):
    # given an uploaded file
    response = upload(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["headers"] == ["email", "first_name", "Loyalty tier"] and body["delimiter"] == ","
    assert body["mapping"]["columns"]["email"] == "id:email" and body["remembered"] is False
    token = body["token"]
    # when previewed, then each row says what would happen, and nothing is written
    preview = api.post(f"{URL}{token}/preview/", MAPPING, format="json")
    assert preview.status_code == 200, preview.content
    first, second = preview.json()["rows"]
    assert first["action"] == "create" and ["first_name", "(empty)", "Ada"] in first["changes"]
    assert second["action"] == "error" and "not an email" in second["summary"]
    assert not Person.objects.exists()
    # when started, then the job runs and its status carries the report
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"{URL}{token}/start/", MAPPING, format="json")
    assert started.status_code == 202, started.content
    job = api.get(f"/api/jobs/{started.json()['job']}/").json()
    assert job["status"] == "succeeded" and job["result"]["created"] == 1 and job["result"]["rejected"] == 1
    assert Identity.objects.get(value="ada@example.com").person.custom == {"loyalty_tier": "gold"}
    # and the rejected rows download as CSV with the reason
    rejected = api.get(f"{URL}jobs/{started.json()['job']}/rejected/")
    assert rejected.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode())))
    assert rows[0][:2] == ["row", "reason"] and rows[1][0] == "3" and "not an email" in rows[1][1]
    # and the same headers get the remembered mapping next time
    assert upload(api).json()["remembered"] is True


BAD = [
    ("no file", lambda api: api.post(URL, {}, format="multipart"), 400, "file", "No file"),
    ("empty file", lambda api: upload(api, b""), 400, "file", "empty"),
    ("duplicate headers", lambda api: upload(api, b"email,Email\na,b\n"), 400, "file", "repeats"),
    ("broken xlsx", lambda api: upload(api, b"PK\x03\x04junk", "p.xlsx"), 400, "file", "XLSX"),
    (
        "unknown upload",
        lambda api: api.post(f"{URL}00000000-0000-0000-0000-000000000000/start/", MAPPING, format="json"),
        400,
        "token",
        "upload it again",
    ),
    ("no mapping", lambda api: api.post(f"{URL}{_token(api)}/start/", {}, format="json"), 400, "columns", ""),
    (
        "unknown column choice",
        lambda api: api.post(
            f"{URL}{_token(api)}/start/",
            {**MAPPING, "columns": {**MAPPING["columns"], "first_name": "attr:nope"}},
            format="json",
        ),
        400,
        "mapping",
        "there is no attribute 'nope'",
    ),
    (
        "unknown write mode",
        lambda api: api.post(f"{URL}{_token(api)}/preview/", {**MAPPING, "write_mode": "x"}, format="json"),
        400,
        "write_mode",
        "",
    ),
    ("unknown job's rejects", lambda api: api.get(f"{URL}jobs/999999/rejected/"), 404, None, ""),
]


def _token(api) -> str:
    return upload(api).json()["token"]


@pytest.mark.parametrize(("label", "call", "status", "field", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_are_answered_with_the_field_and_nothing_is_written(api, label, call, status, field, text):
    response = call(api)
    assert response.status_code == status, response.content
    if field:
        assert text in " ".join(response.json()[field]), response.json()
    assert not Job.objects.exists() and not Person.objects.exists()


def test_imports_need_a_staff_token(client):
    assert APIClient().post(URL, {}, format="multipart").status_code in (401, 403)
