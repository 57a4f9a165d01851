"""A profile is created through ``people.services.person_create``, from the admin's add form too."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from people.attributes import AttributeValueError
from people.models import AttributeChange, Person
from people.services import AttributeWrite, person_create

pytestmark = pytest.mark.django_db


def test_person_create_writes_values_with_audit_rows(admin_user):
    # when
    person = person_create(
        kind="person",
        writes=[AttributeWrite("first_name", "Ada"), AttributeWrite("email", "ADA@x.io")],
        actor=admin_user,
    )
    # then
    person.refresh_from_db()
    assert (person.first_name, person.email) == ("Ada", "ada@x.io")
    assert set(AttributeChange.objects.filter(person=person).values_list("key", "new_value")) == {
        ("first_name", "Ada"),
        ("email", "ada@x.io"),
    }


@pytest.mark.parametrize(
    ("kind", "writes", "error"),
    [
        ("robot", [], ValidationError),
        ("person", [AttributeWrite("birth_date", "yesterday")], AttributeValueError),
        ("person", [AttributeWrite("email", "not an email")], AttributeValueError),
        ("person", [AttributeWrite("no_such_key", "1")], ValidationError),
    ],
)
def test_person_create_rejects_bad_input_and_writes_nothing(kind, writes, error):
    with pytest.raises(error):
        person_create(kind=kind, writes=writes)
    assert Person.objects.count() == 0


def test_adding_a_person_in_the_admin_uses_the_service(client, admin_user):
    # given
    client.force_login(admin_user)
    url = reverse("admin:people_person_add")
    # when
    response = client.post(url, {"kind": "person", "first_name": "Grace", "last_name": "Hopper"}, follow=True)
    # then
    person = Person.objects.get()
    assert (person.first_name, person.last_name) == ("Grace", "Hopper")
    assert AttributeChange.objects.filter(person=person, key="first_name", actor=admin_user).exists()
    assert "Grace Hopper" in response.content.decode()
