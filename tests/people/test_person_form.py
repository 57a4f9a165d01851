"""The person form's typed custom attribute fields: good values are stored typed, bad ones are refused
with a reason on the field and nothing is written."""

import json

import pytest
from django.urls import reverse

from people.models import AttributeChange, Person
from people.services import attribute_definition_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def definitions(db):
    attribute_definition_create(key="visits", label="Visits", type="integer")
    attribute_definition_create(key="ltv", label="Lifetime value", type="decimal")
    attribute_definition_create(key="vip", label="VIP", type="boolean")
    attribute_definition_create(key="renewal", label="Renewal", type="date")
    attribute_definition_create(key="last_call", label="Last call", type="datetime")
    attribute_definition_create(
        key="orders", label="Orders", type="list", item_schema=[{"key": "sku", "type": "text"}]
    )


def post(client, person, **fields):
    data = {"kind": "person", "first_name": person.first_name, **fields}
    return client.post(reverse("admin:people_person_change", args=[person.pk]), data)


def test_typed_values_are_stored_typed(client, admin_user, definitions):
    person = Person.objects.create(first_name="Ada")
    client.force_login(admin_user)
    response = post(
        client,
        person,
        custom__visits="12",
        custom__ltv="99.5",
        custom__vip="false",
        custom__renewal="2027-02-28",
        custom__last_call_0="2026-11-30",
        custom__last_call_1="14:05:00",
        custom__orders=json.dumps([{"sku": "A-1"}]),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.custom == {
        "visits": 12,
        "ltv": 99.5,
        "vip": False,
        "renewal": "2027-02-28",
        "last_call": "2026-11-30T14:05:00Z",
        "orders": [{"sku": "A-1"}],
    }


def test_clearing_a_field_resets_the_value(client, admin_user, definitions):
    person = Person.objects.create(first_name="Ada", custom={"visits": 3})
    client.force_login(admin_user)
    form = client.get(reverse("admin:people_person_change", args=[person.pk])).context["adminform"].form
    assert form.initial["custom__visits"] == 3
    response = post(client, person, **{"custom__visits": "", "initial-custom__visits": "3"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert "visits" not in person.custom


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("custom__visits", "many", "Enter a whole number."),
        ("custom__visits", "1.5", "Enter a whole number."),
        ("custom__ltv", "lots", "Enter a number."),
        ("custom__vip", "maybe", "Select a valid choice."),
        ("custom__renewal", "2027-02-30", "Enter a valid date."),
        ("custom__orders", "[1, 2]", "expects a list of objects"),
        ("custom__orders", '{"sku": "A"}', "expects a list of objects"),
        ("custom__orders", '[{"colour": "red"}]', "undeclared field 'colour'"),
        ("custom__orders", "not json", "Enter a valid JSON."),
    ],
)
def test_bad_values_are_refused_on_their_field(client, admin_user, definitions, field, value, message):
    person = Person.objects.create(first_name="Ada")
    client.force_login(admin_user)
    response = post(client, person, **{field: value})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors
    assert message in " ".join(errors[field])
    assert not AttributeChange.objects.filter(person=person).exists()
