"""Golden cases on a tiny dataset: the SQL filter (correlated and set-based) and the Python
evaluator select exactly the expected people."""

from datetime import UTC, date, timedelta

import pytest

from people.models import AttributeDefinition, PersonChannelContact
from tests.conditions.conftest import NOW


@pytest.fixture
def dataset(make_person, make_event, make_channel):
    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    AttributeDefinition.objects.create(key="ltv", label="LTV", type="decimal")
    AttributeDefinition.objects.create(key="vip", label="VIP", type="boolean")
    AttributeDefinition.objects.create(key="renewal", label="Renewal", type="date")
    AttributeDefinition.objects.create(key="signup", label="Signup", type="datetime")
    email = make_channel("email")
    web = make_channel("web")
    ann = make_person(
        first_name="Ann",
        country="DE",
        city="Berlin",
        birth_date=date(1990, 5, 1),
        custom={
            "plan": "Pro",
            "ltv": 120.5,
            "vip": True,
            "renewal": "2024-06-20",
            "signup": "2024-06-14T09:00:00Z",
        },
        last_contacted_at=NOW - timedelta(days=3, hours=1),
    )
    bob = make_person(
        first_name="Bob",
        country="FR",
        custom={
            "plan": "free",
            "ltv": 10,
            "vip": False,
            "renewal": "2023-01-01",
            "signup": "2020-01-01T00:00:00Z",
        },
    )
    cat = make_person(first_name="Cat", country="", custom={})
    PersonChannelContact.objects.create(person=ann, channel=email, last_contacted_at=NOW - timedelta(hours=2))
    PersonChannelContact.objects.create(person=bob, channel=web, last_contacted_at=NOW - timedelta(days=10))
    t = NOW
    make_event(
        ann,
        "Order Completed",
        at=t - timedelta(days=1),
        properties={"amount": 30, "pay": "card"},
        channel=web,
    )
    make_event(
        ann, "Order Completed", at=t - timedelta(days=5), properties={"amount": 5, "pay": "cash"}, channel=web
    )
    make_event(ann, "Order Completed", at=t - timedelta(days=40), properties={"amount": 50, "pay": "card"})
    make_event(bob, "Order Completed", at=t - timedelta(hours=3), properties={"amount": "12", "pay": "Card"})
    make_event(bob, "Page Viewed", at=t - timedelta(minutes=30), properties={"url": "https://x.com/pricing"})
    make_event(cat, "Page Viewed", at=t - timedelta(days=100), properties={"url": "https://x.com/"})
    return ann, bob, cat


CASES = [
    # text
    ({"attribute": "country", "op": "equals", "value": "de"}, {"Ann"}),
    ({"attribute": "country", "op": "not_equals", "value": "DE"}, {"Bob", "Cat"}),
    ({"attribute": "country", "op": "in", "value": ["fr", "DE"]}, {"Ann", "Bob"}),
    ({"attribute": "country", "op": "not_in", "value": ["fr"]}, {"Ann", "Cat"}),
    ({"attribute": "city", "op": "is_empty"}, {"Bob", "Cat"}),
    ({"attribute": "city", "op": "is_not_empty"}, {"Ann"}),
    ({"attribute": "city", "op": "starts_with", "value": "ber"}, {"Ann"}),
    ({"attribute": "city", "op": "ends_with", "value": "LIN"}, {"Ann"}),
    ({"attribute": "plan", "op": "contains", "value": "r"}, {"Ann", "Bob"}),
    ({"attribute": "plan", "op": "not_contains", "value": "pro"}, {"Bob", "Cat"}),
    # numbers and booleans (custom)
    ({"attribute": "ltv", "op": "gt", "value": 10}, {"Ann"}),
    ({"attribute": "ltv", "op": "gte", "value": 10}, {"Ann", "Bob"}),
    ({"attribute": "ltv", "op": "lt", "value": 100}, {"Bob"}),
    ({"attribute": "ltv", "op": "between", "value": [10, 120.5]}, {"Ann", "Bob"}),
    ({"attribute": "ltv", "op": "equals", "value": 10}, {"Bob"}),
    ({"attribute": "ltv", "op": "not_equals", "value": 10}, {"Ann", "Cat"}),
    ({"attribute": "ltv", "op": "is_empty"}, {"Cat"}),
    ({"attribute": "vip", "op": "equals", "value": True}, {"Ann"}),
    ({"attribute": "vip", "op": "equals", "value": False}, {"Bob"}),
    # system integer
    ({"attribute": "event_count", "op": "equals", "value": 0}, {"Ann", "Bob", "Cat"}),
    # dates (standard and custom), org timezone Europe/Berlin, today = 2024-06-15
    ({"attribute": "birth_date", "op": "before", "value": "1991-01-01"}, {"Ann"}),
    ({"attribute": "birth_date", "op": "on", "value": "1990-05-01"}, {"Ann"}),
    ({"attribute": "renewal", "op": "after", "value": "2024-06-19"}, {"Ann"}),
    ({"attribute": "renewal", "op": "after", "value": "2024-06-20"}, set()),
    ({"attribute": "renewal", "op": "between", "value": ["2023-01-01", "2024-06-20"]}, {"Ann", "Bob"}),
    ({"attribute": "renewal", "op": "more_than_days_ago", "value": 30}, {"Bob"}),
    ({"attribute": "renewal", "op": "within_last_days", "value": 3}, set()),
    ({"attribute": "signup", "op": "within_last_days", "value": 2}, {"Ann"}),
    ({"attribute": "signup", "op": "on", "value": "2024-06-14"}, {"Ann"}),
    ({"attribute": "signup", "op": "before", "value": "2024-06-14T09:00:00Z"}, {"Bob"}),
    ({"attribute": "signup", "op": "after", "value": "2024-06-14T08:59:59Z"}, {"Ann"}),
    ({"attribute": "signup", "op": "is_empty"}, {"Cat"}),
    # events: occurrence, frequency, recency, filters
    ({"event": "Order Completed"}, {"Ann", "Bob"}),
    ({"event": "Order Completed", "count": {"op": "eq", "value": 0}}, {"Cat"}),
    ({"event": "Order Completed", "count": {"op": "gte", "value": 2}}, {"Ann"}),
    ({"event": "Order Completed", "count": {"op": "gt", "value": 2}}, {"Ann"}),
    ({"event": "Order Completed", "count": {"op": "eq", "value": 1}}, {"Bob"}),
    ({"event": "Order Completed", "count": {"op": "lt", "value": 2}}, {"Bob", "Cat"}),
    ({"event": "Order Completed", "count": {"op": "lte", "value": 1}}, {"Bob", "Cat"}),
    ({"event": "Order Completed", "window": {"type": "within", "value": 4, "unit": "hours"}}, {"Bob"}),
    (
        {
            "event": "Order Completed",
            "window": {"type": "within", "value": 7, "unit": "days"},
            "count": {"op": "eq", "value": 2},
        },
        {"Ann"},
    ),
    ({"event": "Order Completed", "window": {"type": "before", "value": 30, "unit": "days"}}, {"Ann"}),
    (
        {"event": "Order Completed", "window": {"type": "between", "value": 2, "end": 6, "unit": "days"}},
        {"Ann"},
    ),
    ({"event": "Page Viewed", "window": {"type": "within", "value": 60, "unit": "minutes"}}, {"Bob"}),
    ({"event": "Order Completed", "filters": [{"property": "amount", "op": "gte", "value": 30}]}, {"Ann"}),
    (
        {"event": "Order Completed", "filters": [{"property": "pay", "op": "equals", "value": "card"}]},
        {"Ann", "Bob"},
    ),
    (
        {
            "event": "Order Completed",
            "filters": [
                {"property": "pay", "op": "equals", "value": "card"},
                {"property": "amount", "op": "lt", "value": 40},
            ],
        },
        {"Ann"},
    ),
    (
        {"event": "Page Viewed", "filters": [{"property": "url", "op": "contains", "value": "pricing"}]},
        {"Bob"},
    ),
    ({"event": "Order Completed", "channel": "web"}, {"Ann"}),
    # last contacted, overall and per channel
    ({"last_contacted": {"op": "unknown"}}, {"Bob", "Cat"}),
    ({"last_contacted": {"op": "exactly", "value": 3}}, {"Ann"}),
    ({"last_contacted": {"op": "less_than", "value": 1, "channel": "email"}}, {"Ann"}),
    ({"last_contacted": {"op": "more_than", "value": 5, "channel": "web"}}, {"Bob"}),
    ({"last_contacted": {"op": "unknown", "channel": "web"}}, {"Ann", "Cat"}),
    # boolean structure
    (
        {"and": [{"attribute": "country", "op": "is_not_empty"}, {"not": {"event": "Page Viewed"}}]},
        {"Ann"},
    ),
    (
        {
            "or": [
                {"attribute": "country", "op": "equals", "value": "FR"},
                {"event": "Page Viewed", "window": {"type": "before", "value": 50, "unit": "days"}},
            ]
        },
        {"Bob", "Cat"},
    ),
    ({"and": []}, {"Ann", "Bob", "Cat"}),
    ({"or": []}, set()),
]


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_golden_members(dataset, members, data, expected):
    # given the tiny dataset / when the condition is compiled and evaluated
    correlated, uncorrelated, python = members(data)
    # then all three paths select the expected people
    assert correlated == expected
    assert uncorrelated == expected
    assert python == expected


def test_event_conditions_do_not_multiply_each_other(dataset, members):
    # given two event conditions that each match Ann (3 orders, 0 page views for Ann)
    data = {
        "and": [
            {"event": "Order Completed", "count": {"op": "eq", "value": 3}},
            {"event": "Page Viewed", "count": {"op": "eq", "value": 0}},
        ]
    }
    # when evaluated / then counts are per condition, never a cross product
    assert members(data) == ({"Ann"}, {"Ann"}, {"Ann"})


def test_explain_lists_what_each_leaf_read(dataset):
    from people import conditions

    ann = dataset[0]
    tree = conditions.check(
        {
            "and": [
                {"attribute": "country", "op": "equals", "value": "DE"},
                {"event": "Order Completed", "count": {"op": "gte", "value": 3}},
            ]
        }
    )
    # when explained
    result = conditions.explain(tree, ann, now=NOW, tz=UTC)
    # then each step shows its inputs and outcome
    assert result["matched"] is True
    assert result["steps"][0] == {
        "kind": "attribute",
        "attribute": "country",
        "op": "equals",
        "value": "DE",
        "actual": "DE",
        "matched": True,
    }
    assert result["steps"][1]["count"] == 3
    assert len(result["steps"][1]["matched_event_ids"]) == 3
