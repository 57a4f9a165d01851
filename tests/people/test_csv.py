"""The person list's quick export (django-import-export) and its links to the import and full export pages."""

import pytest
from django.urls import NoReverseMatch, reverse

from people.models import AttributeType
from people.resources import PersonResource
from people.services import attribute_definition_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(db):
    return attribute_definition_create(key="plan", label="Plan", type=AttributeType.TEXT)


def test_export_has_a_column_per_attribute(plan, make_person):
    make_person(first_name="Ada", custom={"plan": "pro"})
    exported = PersonResource().export()
    assert exported.headers[:3] == ["id", "kind", "first_name"]
    assert "plan" in exported.headers
    row = dict(zip(exported.headers, exported[0], strict=True))
    assert row["first_name"] == "Ada" and row["plan"] == "pro"


def test_the_person_list_links_to_the_import_and_to_an_export_of_what_it_shows(
    client, admin_user, make_person
):
    # given
    make_person(first_name="Ada", country="DE")
    client.force_login(admin_user)
    # when the list is filtered by country
    page = client.get(reverse("admin:people_person_changelist"), {"country": "DE"}).content.decode()
    # then it offers the import and an export of these people, and the old import page is gone
    assert 'href="/admin/people/import/"' in page and "Import people from CSV or Excel" in page
    assert "/admin/people/import/export/?filters=country%3DDE" in page
    with pytest.raises(NoReverseMatch):  # django-import-export's import (no identities) is gone
        reverse("admin:people_person_import")
