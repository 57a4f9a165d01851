"""The import's admin pages through real HTTP: upload → mapping → preview → run → report."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from identity.models import Identity
from people.models import Job, Person

pytestmark = pytest.mark.django_db

FILE = (
    "Email,First name,City,Loyalty tier\n"
    "ann@example.com,Ann,Oslo,gold\n"
    "not-an-email,Bad,Rome,silver\n"
    "ben@example.com,Ben,Lima,\n"
)


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"


@pytest.fixture
def staff(client, marketeer_user):
    client.force_login(marketeer_user)
    return client


def mapping_post(**overrides):
    data = {
        "col_0": "id:email",
        "col_1": "attr:first_name",
        "col_2": "attr:city",
        "col_3": "new:text",
        "match_key": "email",
        "write_mode": "create_update",
        "time_mode": "now",
        "time_column": "",
        "fixed_time": "",
    }
    data.update(overrides)
    return data


def test_upload_map_preview_run_report_and_rejects(staff, django_capture_on_commit_callbacks):
    # given an uploaded CSV
    response = staff.post("/admin/people/import/", {"file": SimpleUploadedFile("crm.csv", FILE.encode())})
    assert response.status_code == 302
    mapping_url = response["Location"]
    page = staff.get(mapping_url).content.decode()
    # then the mapping page lists the columns with a guess (Email → the email identifier) and examples
    assert "crm.csv" in page and "ann@example.com" in page
    assert re.search(r'name="col_0".*?<option value="id:email" selected', page, re.S)
    # when previewed
    page = staff.post(mapping_url, mapping_post(action="preview")).content.decode()
    # then each row says what will happen, nothing is written yet
    assert "city</code>: (empty) → <b>Oslo</b>" in page
    assert "Column &#x27;Email&#x27;: " in page and "not an email address" in page
    assert not Person.objects.exists()
    # when run
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(mapping_url, mapping_post(action="start"))
    report = staff.get(response["Location"]).content.decode()
    # then the report counts and the rejected row can be downloaded with its reason
    assert re.search(r"Profiles created</th><td>2</td>", report)
    assert re.search(r"Rows rejected</th><td>1</td>", report)
    job = Job.objects.get()
    rejects = staff.get(f"/admin/people/import/jobs/{job.pk}/rejected.csv")
    body = b"".join(rejects.streaming_content).decode()
    assert body.splitlines()[0] == "row,reason,Email,First name,City,Loyalty tier"
    assert body.splitlines()[1].startswith("3,Column 'Email': ") and body.count("\n") == 2
    assert Identity.objects.get(value="ann@example.com").person.custom == {"loyalty_tier": "gold"}
    # and the next file with the same headers gets the same mapping
    response = staff.post("/admin/people/import/", {"file": SimpleUploadedFile("crm2.csv", FILE.encode())})
    page = staff.get(response["Location"]).content.decode()
    assert "The mapping of the last file with these headers is filled in." in page
    assert re.search(r'name="col_3".*?<option value="attr:loyalty_tier" selected', page, re.S)


@pytest.mark.parametrize(
    ("label", "content", "message"),
    [
        ("empty", b"", "The file is empty"),
        ("duplicate headers", b"email,EMAIL\n", "repeats column 1"),
    ],
)
def test_bad_upload_is_answered_on_the_page(staff, label, content, message):
    response = staff.post("/admin/people/import/", {"file": SimpleUploadedFile("x.csv", content)})
    assert response.status_code == 200 and message in response.content.decode()


def test_bad_mapping_is_listed_on_the_page_and_nothing_starts(staff):
    response = staff.post("/admin/people/import/", {"file": SimpleUploadedFile("crm.csv", FILE.encode())})
    page = staff.post(response["Location"], mapping_post(action="start", match_key="phone")).content.decode()
    assert "No column is mapped to the match key &#x27;phone&#x27;." in page
    assert not Job.objects.exists()


def test_unknown_upload_token_goes_back_to_upload(staff):
    response = staff.get("/admin/people/import/not-a-token/mapping/")
    assert response.status_code == 302 and response["Location"].endswith("/admin/people/import/")


def test_pages_need_staff(client):
    assert client.get("/admin/people/import/").status_code == 302
