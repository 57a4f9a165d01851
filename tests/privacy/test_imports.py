"""The CSV import never brings back erased people and never writes to suppressed ones: their rows are
dropped and counted, the others imported."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from identity.imports.mapping import Mapping
from identity.imports.services import import_start, upload_store
from people.models import Job, Person

pytestmark = pytest.mark.django_db


def test_csv_rows_of_erased_or_suppressed_people_are_dropped(
    ingest, admin_user, run_request, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    # given: one person erased, one suppressed
    ingest({"type": "identify", "userId": "h-1", "traits": {"email": "hal@example.org"}, "messageId": "h1"})
    ingest({"type": "identify", "userId": "i-1", "traits": {"email": "ivy@example.org"}, "messageId": "i1"})
    run_request("erasure", ("email", "hal@example.org"), user=admin_user)
    run_request("suppression", ("email", "ivy@example.org"), user=admin_user)
    content = b"email,first_name\nHAL@example.org,Hal\nivy@example.org,Ivy\njo@example.org,Jo\n"
    token, _ = upload_store(file=SimpleUploadedFile("old-export.csv", content))
    # when: an old export is imported again
    with django_capture_on_commit_callbacks(execute=True):
        job = import_start(
            token=token, mapping=Mapping(columns={"email": "id:email", "first_name": "attr:first_name"})
        )
    job.refresh_from_db()
    # then: the erased person stays gone, the suppressed one untouched, the new one imported
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert (job.result["created"], job.result["dropped"], job.result["rejected"]) == (1, 2, 0)
    assert not Person.objects.filter(email="hal@example.org").exists()
    assert Person.objects.get(email="ivy@example.org").first_name == ""
    assert Person.objects.get(email="jo@example.org").first_name == "Jo"
