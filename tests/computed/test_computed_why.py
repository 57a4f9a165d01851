"""The Person 360's computed values, each with its "why": the inputs, events and rules behind it."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def why_text(client, body: str, key: str) -> str:
    """The visible text of one attribute's "Why?" block once opened: its summary, and the explanation
    the block fetches from the address it carries."""
    match = re.search(rf'<details[^>]*data-why="{key}" data-url="([^"]+)".*?</details>', body, re.S)
    assert match, f"no why for {key}"
    summary = re.search(r"<summary[^>]*>(.*?)</summary>", match.group(0), re.S).group(1)
    response = client.get(unescape(match.group(1)))
    assert response.status_code == 200, response.content
    text = unescape(summary + " " + response.json()["html"])
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


@pytest.fixture
def shopper(make_person, make_event, make_computed):
    person = make_person(first_name="Ada")
    now = timezone.now()
    first = make_event(person, "Order Completed", at=now - timedelta(days=3), properties={"revenue": 30})
    second = make_event(person, "Order Completed", at=now - timedelta(days=1), properties={"revenue": 12.5})
    make_event(person, "Page Viewed", at=now - timedelta(days=1), properties={"path": "/"})
    make_computed(
        "revenue_total",
        "aggregate",
        {"function": "sum", "event": "Order Completed", "property": "revenue"},
        activate=True,
    )
    make_computed("half_revenue", "formula", {"formula": "round(revenue_total / 2, 2)"}, activate=True)
    make_computed(
        "buyer_score",
        "score",
        {
            "rules": [
                {
                    "label": "Bought twice",
                    "condition": {"event": "Order Completed", "count": {"op": "gte", "value": 2}},
                    "points": 40,
                },
                {
                    "label": "Browsed a lot",
                    "condition": {"event": "Page Viewed", "count": {"op": "gte", "value": 5}},
                    "points": 10,
                },
            ]
        },
        activate=True,
    )
    return person, first, second


@pytest.mark.parametrize("role", ["admin_user", "marketeer_user"])
def test_360_explains_a_formula_an_aggregate_and_a_score(client, request, role, shopper):
    person, first, second = shopper
    client.force_login(request.getfixturevalue(role))
    # when the 360 page is opened
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    # then the page itself explains nothing (each why is worked out when opened)
    assert "events matched" not in body and "(evaluated now)" not in body
    # and, opened, the aggregate lists the two matching orders with their revenue
    aggregate = why_text(client, body, "revenue_total")
    assert "Sum of revenue of Order Completed events → 42.5" in aggregate
    assert "2 of 2 Order Completed events matched" in aggregate
    assert f"Order Completed #{first.pk}" in aggregate and "revenue: 30" in aggregate
    assert f"Order Completed #{second.pk}" in aggregate and "revenue: 12.5" in aggregate
    assert "Page Viewed" not in aggregate
    # the formula shows its inputs' values
    formula = why_text(client, body, "half_revenue")
    assert "Formula round(revenue_total / 2, 2) → 21.25" in formula
    assert "revenue_total = 42.5" in formula
    # the score shows which rule scored and what it read
    score = why_text(client, body, "buyer_score")
    assert "Bought twice : +40 points" in score
    assert "✓ Order Completed: 2 events, needs at least 2" in score
    assert "Browsed a lot : no points (10 if it matched)" in score
    assert "✗ Page Viewed: 1 events, needs at least 5" in score
    # nothing reads as Python or JSON
    for text in (aggregate, formula, score):
        assert "None" not in text and "{" not in text and "'" not in text


def test_why_reads_the_question_with_the_value(client, admin_user, shopper):
    person, _, _ = shopper
    client.force_login(admin_user)
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert why_text(client, body, "revenue_total").startswith("Why is Revenue Total 42.5?")


def test_every_attribute_gets_a_why_however_many_there_are(client, admin_user, make_person, make_computed):
    from people.services import attribute_definition_create

    attribute_definition_create(key="visits", label="Visits", type="integer")
    person = make_person(first_name="Ada", custom={"visits": 3})
    for i in range(12):
        make_computed(f"visits_plus_{i}", "formula", {"formula": f"visits + {i}"}, activate=True)
    client.force_login(admin_user)
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert "Formula visits + 11 → 14" in why_text(client, body, "visits_plus_11")


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({}, 400, "attribute and person: expected an id (a whole number)"),
        ({"attribute": "x", "person": "1"}, 400, "attribute: expected an id (a whole number)"),
        ({"attribute": "1", "person": "-1"}, 400, "person: expected an id (a whole number)"),
        ({"attribute": "1", "person": "9" * 30}, 400, "person: expected an id (a whole number)"),
        ({"attribute": "1", "person": "١"}, 400, "person: expected an id (a whole number)"),
        ({"attribute": "1", "person": "999999"}, 404, "No such profile."),
        (
            {"attribute": "999999", "person": "{person}"},
            404,
            "No such computed attribute shown on the profile page.",
        ),
    ],
)
def test_why_endpoint_refuses_bad_ids_clearly(client, admin_user, make_person, params, status, error):
    person = make_person(first_name="Ada")
    client.force_login(admin_user)
    params = {k: v.format(person=person.pk) for k, v in params.items()}
    response = client.get(reverse("admin:computed_computedattribute_why"), params)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_why_endpoint_is_for_staff_who_may_view_computed_attributes(client, make_person, django_user_model):
    person = make_person(first_name="Ada")
    url = reverse("admin:computed_computedattribute_why")
    params = {"attribute": "1", "person": str(person.pk)}
    assert client.get(url, params).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("nobody", password="pw", is_staff=True))
    assert client.get(url, params).status_code == 403
