"""CSV import and export of people through the admin (django-import-export)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from tablib import Dataset

from people.models import AttributeType, Person
from people.resources import PersonResource
from people.services import attribute_definition_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(db):
    return attribute_definition_create(key="plan", label="Plan", type=AttributeType.TEXT)


@pytest.fixture
def visits(db):
    return attribute_definition_create(key="visits", label="Visits", type=AttributeType.INTEGER)


def dataset(csv: str) -> Dataset:
    return Dataset().load(csv, format="csv")


def test_import_creates_and_updates_people_by_email(plan, visits, make_person):
    # given an existing person and a file with one known and one new email
    known = make_person(email="ada@example.com")
    data = dataset("email,first_name,plan,visits\nADA@example.com,Ada,pro,3\nbob@example.com,Bob,free,1\n")
    # when
    result = PersonResource().import_data(data, dry_run=False)
    # then
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["new"] == 1 and result.totals["update"] == 1
    known.refresh_from_db()
    assert (known.first_name, known.custom) == ("Ada", {"plan": "pro", "visits": 3})
    assert Person.objects.get(email="bob@example.com").custom == {"plan": "free", "visits": 1}
    assert known.attribute_changes.filter(key="plan", source__name="CSV import").exists()


def test_invalid_rows_name_the_attribute_and_nothing_is_written(plan, visits):
    data = dataset("email,visits\nok@example.com,2\nbad@example.com,many\n")
    result = PersonResource().import_data(data, dry_run=False, raise_errors=False)
    assert result.has_validation_errors()
    [invalid] = result.invalid_rows
    assert invalid.number == 2
    assert invalid.error_dict == {"visits": ["Attribute 'visits' expects a whole number; got 'many'."]}


def test_export_has_a_column_per_attribute(plan, make_person):
    make_person(first_name="Ada", custom={"plan": "pro"})
    exported = PersonResource().export()
    assert exported.headers[:3] == ["id", "kind", "first_name"]
    assert "plan" in exported.headers
    row = dict(zip(exported.headers, exported[0], strict=True))
    assert row["first_name"] == "Ada" and row["plan"] == "pro"


def test_admin_import_preview_and_confirm(client, admin_user, plan):
    # given
    client.force_login(admin_user)
    upload = SimpleUploadedFile("people.csv", b"email,plan\nzoe@example.com,pro\n", content_type="text/csv")
    # when: the dry run shows a preview with a confirm form
    preview = client.post(
        reverse("admin:people_person_import"),
        {"import_file": upload, "format": "0", "resource": "0"},
    )
    assert preview.status_code == 200
    assert "zoe@example.com" in preview.content.decode()
    assert not Person.objects.filter(email="zoe@example.com").exists()
    confirm = preview.context["confirm_form"]
    # then confirming writes the rows
    response = client.post(reverse("admin:people_person_process_import"), confirm.initial)
    assert response.status_code == 302
    assert Person.objects.get(email="zoe@example.com").custom == {"plan": "pro"}


def test_rows_for_a_merged_profile_write_to_the_profile_it_joined(plan, make_person):
    parent = make_person(email="p@example.com")
    child = make_person(merged_into=parent)
    result = PersonResource().import_data(dataset(f"id,plan\n{child.uid},pro\n"), dry_run=False)
    assert not result.has_validation_errors()
    parent.refresh_from_db()
    assert parent.custom == {"plan": "pro"}
    assert Person.objects.count() == 2


def test_an_unknown_unified_id_is_an_invalid_row(plan):
    result = PersonResource().import_data(
        dataset("id,plan\n00000000-0000-0000-0000-000000000001,pro\n"), dry_run=False, raise_errors=False
    )
    assert result.has_validation_errors()
    assert "No person has the unified id" in str(result.invalid_rows[0].error_dict)
    assert not Person.objects.exists()
