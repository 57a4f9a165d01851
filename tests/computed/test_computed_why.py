"""The Person 360's computed values, each with its "why": the inputs, events and rules behind it."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def why_text(body: str, key: str) -> str:
    """The visible text of one attribute's "Why?" block."""
    match = re.search(rf'<details[^>]*data-why="{key}".*?</details>', body, re.S)
    assert match, f"no why for {key}"
    return " ".join(re.sub(r"<[^>]+>", " ", unescape(match.group(0))).split())


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
    # then the aggregate lists the two matching orders with their revenue
    aggregate = why_text(body, "revenue_total")
    assert "Sum of revenue of Order Completed events → 42.5" in aggregate
    assert "2 of 2 Order Completed events matched" in aggregate
    assert f"Order Completed #{first.pk}" in aggregate and "revenue: 30" in aggregate
    assert f"Order Completed #{second.pk}" in aggregate and "revenue: 12.5" in aggregate
    assert "Page Viewed" not in aggregate
    # the formula shows its inputs' values
    formula = why_text(body, "half_revenue")
    assert "Formula round(revenue_total / 2, 2) → 21.25" in formula
    assert "revenue_total = 42.5" in formula
    # the score shows which rule scored and what it read
    score = why_text(body, "buyer_score")
    assert "Bought twice : +40 points" in score
    assert "✓ Order Completed: 2 events, needs at least 2" in score
    assert "Browsed a lot : no points (10 if it matched)" in score
    assert "✗ Page Viewed: 1 events, needs at least 5" in score
    # nothing reads as Python or JSON
    for text in (aggregate, formula, score):
        assert "None" not in text and "{" not in text and "'" not in text
