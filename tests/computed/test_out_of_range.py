"""Values a computation cannot hold are empty, counted on the attribute with the reason, and no page
fails because of a stored value (issue: one formula's year-10273 date broke every Person 360 page)."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from rest_framework.test import APIClient

from computed import engine, selectors, services
from computed.models import ComputedAttribute, ComputedValue
from computed.panels import computed_values_context
from people.models import AttributeDefinition

EDGE = "9999-12-25"


@pytest.fixture
def renewals(db, make_person):
    """Two profiles with a custom date: one near the end of the calendar, one ordinary."""
    AttributeDefinition.objects.create(key="renewal", label="Renewal", type="date")
    AttributeDefinition.objects.create(key="shift", label="Shift", type="integer")
    edge = make_person(first_name="Edge", custom={"renewal": EDGE, "shift": 10})
    plain = make_person(first_name="Plain", custom={"renewal": "2024-01-01", "shift": 10})
    return edge, plain


def test_a_date_out_of_range_is_empty_and_counted_with_its_reason(renewals, make_computed):
    edge, plain = renewals
    # given a formula that leaves the calendar for one profile only
    attribute = make_computed("renewal_later", "formula", {"formula": "add_days(renewal, shift)"})
    # when it is activated (every profile, set-based SQL)
    services.activate(attribute)
    # then that profile's value is empty, the other one is computed
    assert selectors.person_values(person_id=edge.pk)["renewal_later"]["value"] is None
    assert selectors.person_values(person_id=plain.pk)["renewal_later"]["value"] == "2024-01-11"
    # and the attribute says how many values were left empty and why
    attribute.refresh_from_db()
    assert attribute.state == "active"
    assert attribute.out_of_range_count == 1
    assert attribute.out_of_range_reason == "column 1: add_days() left the supported range (years 1 to 9999)"
    assert attribute.out_of_range_at is not None
    assert not ComputedValue.objects.filter(attribute=attribute, person=edge).exists()


def test_refreshes_add_to_the_count_and_the_test_explains_it(renewals, make_computed, make_person):
    edge, _ = renewals
    attribute = make_computed(
        "renewal_later", "formula", {"formula": "add_days(renewal, shift)"}, activate=True
    )
    # when another profile reaches the edge and is refreshed
    late = make_person(first_name="Late", custom={"renewal": "9999-12-30", "shift": 3})
    services.refresh_person(late.pk)
    # then the count grows by one
    attribute.refresh_from_db()
    assert attribute.out_of_range_count == 2
    # and testing on the profile shows the same empty value and the reason
    result = selectors.run_profile_test(kind="formula", definition=attribute.definition, person=edge)
    assert result["value"] is None
    assert result["explanation"]["out_of_range"] == [
        "column 1: add_days() left the supported range (years 1 to 9999)"
    ]


def test_a_full_recomputation_replaces_the_count(renewals, make_computed):
    edge, _ = renewals
    attribute = make_computed(
        "renewal_later", "formula", {"formula": "add_days(renewal, shift)"}, activate=True
    )
    # when the edge profile moves back into the calendar and everyone is recomputed
    edge.custom = {"renewal": "2030-01-01", "shift": 10}
    edge.save()
    services.computed_attribute_disable(attribute=attribute)
    services.activate(attribute)
    # then nothing is left empty any more
    attribute.refresh_from_db()
    assert (attribute.out_of_range_count, attribute.out_of_range_reason) == (0, "")
    assert selectors.person_values(person_id=edge.pk)["renewal_later"]["value"] == "2030-01-11"


def test_whole_numbers_too_large_for_text_are_empty(db, make_person, make_computed):
    AttributeDefinition.objects.create(key="points", label="Points", type="integer")
    big = make_person(custom={"points": 10**19})
    small = make_person(custom={"points": 42})
    attribute = make_computed("label", "formula", {"formula": "concat('P', points)"}, activate=True)
    assert selectors.person_values(person_id=big.pk)["label"]["value"] is None
    assert selectors.person_values(person_id=small.pk)["label"]["value"] == "P42"
    attribute.refresh_from_db()
    assert attribute.out_of_range_count == 1
    assert "concat() of a whole number beyond ±9.2e18" in attribute.out_of_range_reason


def test_the_count_and_reason_are_shown_in_the_admin_and_the_api(
    renewals, make_computed, admin_client, admin_user
):
    attribute = make_computed(
        "renewal_later", "formula", {"formula": "add_days(renewal, shift)"}, activate=True
    )
    # the admin page
    page = admin_client.get(reverse("admin:computed_computedattribute_change", args=[attribute.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Left empty (out of range)" in text
    assert "1 profile — column 1: add_days() left the supported range (years 1 to 9999)" in text
    # the API
    api = APIClient()
    api.force_authenticate(user=admin_user)
    body = api.get(f"/api/computed-attributes/{attribute.pk}/").json()
    assert body["out_of_range_count"] == 1
    assert body["out_of_range_reason"] == "column 1: add_days() left the supported range (years 1 to 9999)"


def _store_year_10273(attribute: ComputedAttribute, person) -> None:
    """What the old engine stored for add_days(date('9999-12-31'), 100000) (PostgreSQL holds it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO computed_computedvalue (attribute_id, person_id, day, computed_at) "
            "VALUES (%s, %s, DATE '9999-12-31' + 100000, now()) "
            "ON CONFLICT (attribute_id, person_id) DO UPDATE SET day = EXCLUDED.day",
            [attribute.pk, person.pk],
        )


@pytest.mark.postgres
def test_a_stored_value_out_of_range_does_not_break_the_person_360_page(
    db, make_person, make_computed, admin_client
):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL can hold a year-10273 date")
    # given a value stored before values were range-checked, and an ordinary one
    person = make_person(first_name="Ann")
    far = make_computed("far_future", "formula", {"formula": "add_days(today(), 1)"}, activate=True)
    _store_year_10273(far, person)
    # when the profile's 360 page, its values and its Profile API traits are read
    page = admin_client.get(reverse("admin:people_person_change", args=[person.pk]))
    values = selectors.person_values(person_id=person.pk)
    traits = selectors.person_traits(person)
    section = render_to_string("computed/panels/computed_values.html", computed_values_context(person, None))
    # then the page renders, and its computed-attributes section shows the value as empty
    assert page.status_code == 200
    assert "Computed attributes" in page.content.decode()
    assert 'data-value="far_future">—<' in section
    assert values["far_future"]["value"] is None
    assert traits["far_future"]["value"] is None


EDGE_FORMULAS = [
    "add_days(renewal, shift)",
    "add_days(renewal, -shift * 400000)",
    "add_days(renewal, shift * 1000000)",
    "year(add_days(renewal, shift))",
    "coalesce(add_days(renewal, shift), date('2000-01-01'))",
    "add_days(renewal, shift) > date('2024-01-01')",
    "concat(shift * 1000000000000000000, 'x')",
    "if(add_days(renewal, shift) > today(), 1, 2)",
]


@pytest.mark.parametrize("formula", EDGE_FORMULAS)
def test_sql_and_python_agree_at_the_edges_of_the_range(renewals, make_person, formula, now):
    edge, plain = renewals
    early = make_person(first_name="Early", custom={"renewal": "0001-01-05", "shift": -10})
    people = [edge, plain, early]
    attribute = services.computed_attribute_create(
        key="edge", name="Edge", kind="formula", definition={"formula": formula}
    )
    # when computed over everyone (joins), for a few people (correlated reads) and in Python
    engine.compute([attribute], person_ids=None, now=now, raise_errors=True)
    everyone = [selectors.person_values(person_id=p.pk, states=["draft"])["edge"]["value"] for p in people]
    ComputedValue.objects.all().delete()
    engine.compute([attribute], person_ids=[p.pk for p in people], now=now, raise_errors=True)
    few = [selectors.person_values(person_id=p.pk, states=["draft"])["edge"]["value"] for p in people]
    python = [
        selectors.run_profile_test(kind="formula", definition=attribute.definition, person=p, now=now)[
            "value"
        ]
        for p in people
    ]
    # then all three agree
    assert everyone == few == python


@pytest.mark.parametrize(
    "formula",
    [
        "add_days(moment, shift * 250000)",
        "add_days(moment, -shift * 250000)",
        "year(add_days(moment, shift))",
        "add_days(moment, shift) > now()",
    ],
)
def test_date_times_agree_at_the_edges_of_the_range(db, make_person, formula, now):
    AttributeDefinition.objects.create(key="moment", label="Moment", type="datetime")
    AttributeDefinition.objects.create(key="shift", label="Shift", type="integer")
    people = [
        make_person(custom={"moment": "9999-12-30T12:00:00Z", "shift": 10}),
        make_person(custom={"moment": "2024-01-01T00:00:00Z", "shift": 10}),
        make_person(custom={"moment": "0001-01-03T00:00:00Z", "shift": -10}),
    ]
    attribute = services.computed_attribute_create(
        key="edge", name="Edge", kind="formula", definition={"formula": formula}
    )
    engine.compute([attribute], person_ids=None, now=now, raise_errors=True)
    stored = [selectors.person_values(person_id=p.pk, states=["draft"])["edge"]["value"] for p in people]
    python = [
        selectors.run_profile_test(kind="formula", definition=attribute.definition, person=p, now=now)[
            "value"
        ]
        for p in people
    ]
    assert stored == python
    assert any(value is not None for value in stored)
