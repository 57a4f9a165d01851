"""Event aggregates: golden tables of function × period × filter × exclusion, computed set-based in
SQL (the activation path) and in Python (test on a profile), both against the expected value."""

import itertools
from datetime import UTC, datetime

import pytest

from computed import engine, selectors, services
from computed.selectors import person_values

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)  # 14:00 in Europe/Berlin; today is 2024-06-15
_keys = itertools.count()

# (time UTC, amount, category, product, payment)
EVENTS = [
    (datetime(2024, 1, 10, 10, 0, tzinfo=UTC), 100, "Shoes", "A", "card"),  # e1 Wed 11:00 Berlin
    (datetime(2024, 5, 20, 10, 0, tzinfo=UTC), 20, "Hats", "B", "card"),  # e2 Mon 12:00
    (datetime(2024, 6, 10, 10, 0, tzinfo=UTC), 30, "Shoes", "C", "cash"),  # e3 Mon 12:00
    (datetime(2024, 6, 14, 21, 0, tzinfo=UTC), 40, "Hats", "B", "card"),  # e4 Fri 23:00 (yesterday)
    (datetime(2024, 6, 15, 8, 0, tzinfo=UTC), 50, "Bags", "A", "card"),  # e5 Sat 10:00 (today)
    (datetime(2024, 6, 15, 11, 30, tzinfo=UTC), None, "Hats", None, "cash"),  # e6 Sat 13:30 (today)
]

PERIODS = {
    "lifetime": {"type": "lifetime"},
    "7d": {"type": "full_days", "value": 7},
    "30d": {"type": "full_days", "value": 30},
    "24h": {"type": "last_hours", "value": 24},
    "since": {"type": "since", "value": "2024-06-01"},
    "1d": {"type": "last_days", "value": 1},
    "6m": {"type": "full_months", "value": 6},
    "before_today": {"type": "before_today"},
}


@pytest.fixture
def ann(make_person, make_event, settings):
    settings.ORGANIZATION_TIMEZONE = "Europe/Berlin"
    person = make_person(first_name="Ann")
    for at, amount, category, product, payment in EVENTS:
        props = {"category": category, "payment": payment}
        if amount is not None:
            props["amount"] = amount
        if product is not None:
            props["product"] = product
        make_event(person, "Order Completed", at=at, properties=props)
    make_event(person, "Page Viewed", at=NOW, properties={"amount": 999})
    return person


@pytest.fixture
def bob(make_person):
    return make_person(first_name="Bob")


def run(definition: dict, *people):
    """Values computed over everyone (SQL, one statement) and per person in Python."""
    attribute = services.computed_attribute_create(
        key=f"a{next(_keys)}",
        name="a",
        kind="aggregate",
        definition={"event": "Order Completed", **definition},
    )
    engine.compute([attribute], person_ids=None, now=NOW, raise_errors=True)
    out = []
    for person in people:
        stored = person_values(person_id=person.pk, states=["draft"])[attribute.key]["value"]
        python = selectors.run_profile_test(
            kind="aggregate", definition=attribute.definition, person=person, now=NOW
        )
        out.append((stored, python["value"]))
    return out


T = {i + 1: e[0].isoformat() for i, e in enumerate(EVENTS)}

TABLE = {
    # function, property: {period: expected}
    ("count", None): {
        "lifetime": 6,
        "7d": 2,
        "30d": 3,
        "24h": 3,
        "since": 4,
        "1d": 3,
        "6m": 4,
        "before_today": 4,
    },
    ("sum", "amount"): {
        "lifetime": 240.0,
        "7d": 70.0,
        "30d": 90.0,
        "24h": 90.0,
        "since": 120.0,
        "1d": 90.0,
        "6m": 190.0,
        "before_today": 190.0,
    },
    ("average", "amount"): {
        "lifetime": 48.0,
        "7d": 35.0,
        "30d": 30.0,
        "24h": 45.0,
        "since": 40.0,
        "1d": 45.0,
        "6m": 47.5,
        "before_today": 47.5,
    },
    ("min", "amount"): {
        "lifetime": 20.0,
        "7d": 30.0,
        "30d": 20.0,
        "24h": 40.0,
        "since": 30.0,
        "1d": 40.0,
        "6m": 20.0,
        "before_today": 20.0,
    },
    ("max", "amount"): {
        "lifetime": 100.0,
        "7d": 40.0,
        "30d": 40.0,
        "24h": 50.0,
        "since": 50.0,
        "1d": 50.0,
        "6m": 100.0,
        "before_today": 100.0,
    },
    ("count_distinct", "category"): {
        "lifetime": 3,
        "7d": 2,
        "30d": 2,
        "24h": 2,
        "since": 3,
        "1d": 2,
        "6m": 2,
        "before_today": 2,
    },
    ("first", "category"): {
        "lifetime": "Shoes",
        "7d": "Shoes",
        "30d": "Hats",
        "24h": "Hats",
        "since": "Shoes",
        "1d": "Hats",
        "6m": "Shoes",
        "before_today": "Shoes",
    },
    ("last", "product"): {
        "lifetime": "A",
        "7d": "B",
        "30d": "B",
        "24h": "A",
        "since": "A",
        "1d": "A",
        "6m": "B",
        "before_today": "B",
    },
    ("exists", None): dict.fromkeys(PERIODS, True),
    ("most_common", "category"): {
        "lifetime": "Hats",
        "7d": "Hats",  # Shoes 1, Hats 1: the most recent wins
        "30d": "Hats",
        "24h": "Hats",
        "since": "Hats",
        "1d": "Hats",
        "6m": "Hats",  # Shoes 2, Hats 2: Hats is more recent
        "before_today": "Hats",
    },
    ("min", "$timestamp"): {
        "lifetime": T[1],
        "7d": T[3],
        "30d": T[2],
        "24h": T[4],
        "since": T[3],
        "1d": T[4],
        "6m": T[1],
        "before_today": T[1],
    },
    ("max", "$timestamp"): {
        "lifetime": T[6],
        "7d": T[4],
        "30d": T[4],
        "24h": T[6],
        "since": T[6],
        "1d": T[6],
        "6m": T[4],
        "before_today": T[4],
    },
}
EMPTY = {
    "count": 0,
    "sum": 0.0,
    "average": None,
    "min": None,
    "max": None,
    "count_distinct": 0,
    "first": None,
    "last": None,
    "exists": False,
    "most_common": None,
}
CASES = [
    (function, prop, period, expected)
    for (function, prop), by_period in TABLE.items()
    for period, expected in by_period.items()
]


@pytest.mark.parametrize(("function", "prop", "period", "expected"), CASES)
def test_function_by_period(ann, bob, function, prop, period, expected):
    # given Ann's six orders and Bob without any
    definition = {"function": function, "period": PERIODS[period]}
    if prop:
        definition["property"] = prop
    # when computed over everyone in SQL and for each in Python
    (ann_sql, ann_py), (bob_sql, bob_py) = run(definition, ann, bob)
    # then Ann gets the expected value and Bob the function's empty value, on both paths
    assert ann_py == expected
    assert ann_sql == expected
    assert bob_py == bob_sql == EMPTY[function]


FILTERED = [
    ("count", None, "lifetime", [{"property": "payment", "op": "equals", "value": "CARD"}], 4),
    ("sum", "amount", "lifetime", [{"property": "payment", "op": "equals", "value": "card"}], 210.0),
    ("sum", "amount", "24h", [{"property": "payment", "op": "equals", "value": "card"}], 90.0),
    ("count", None, "7d", [{"property": "payment", "op": "equals", "value": "card"}], 1),
    ("count", None, "lifetime", [{"property": "amount", "op": "gt", "value": 25}], 4),
    ("count", None, "30d", [{"property": "amount", "op": "gt", "value": 25}], 2),
    ("count", None, "lifetime", [{"property": "amount", "op": "is_empty"}], 1),
    (
        "average",
        "amount",
        "lifetime",
        [{"property": "category", "op": "in", "value": ["Hats", "Bags"]}],
        110 / 3,
    ),
    ("exists", None, "lifetime", [{"property": "payment", "op": "equals", "value": "bitcoin"}], False),
    (
        "most_common",
        "category",
        "lifetime",
        [{"property": "payment", "op": "equals", "value": "card"}],
        "Hats",
    ),
    ("first", "category", "lifetime", [{"property": "payment", "op": "equals", "value": "cash"}], "Shoes"),
    ("count_distinct", "product", "lifetime", [{"property": "amount", "op": "gte", "value": 30}], 3),
]


@pytest.mark.parametrize(("function", "prop", "period", "filters", "expected"), FILTERED)
def test_property_filters(ann, function, prop, period, filters, expected):
    # given property filters / when computed
    definition = {"function": function, "period": PERIODS[period], "filters": filters}
    if prop:
        definition["property"] = prop
    ((stored, python),) = run(definition, ann)
    # then only the matching events count
    assert python == pytest.approx(expected) if isinstance(expected, float) else python == expected
    assert stored == python


EXCLUDED = [
    ("count", None, "first", "lifetime", 5),
    ("count", None, "last", "lifetime", 5),
    ("sum", "amount", "first", "lifetime", 140.0),
    ("sum", "amount", "last", "lifetime", 240.0),
    ("first", "category", "first", "lifetime", "Hats"),
    ("last", "category", "last", "lifetime", "Bags"),
    ("count", None, "first", "7d", 1),
    ("min", "amount", "first", "30d", 30.0),
    ("max", "$timestamp", "last", "lifetime", T[5]),
    ("most_common", "category", "first", "6m", "Hats"),
    ("exists", None, "first", "7d", True),
    ("exists", None, "first", "24h", True),
]


@pytest.mark.parametrize(("function", "prop", "exclude", "period", "expected"), EXCLUDED)
def test_exclude_first_or_last(ann, bob, function, prop, exclude, period, expected):
    # given exclusion of the first or last matching event / when computed
    definition = {"function": function, "period": PERIODS[period], "exclude": exclude}
    if prop:
        definition["property"] = prop
    (ann_values, bob_values) = run(definition, ann, bob)
    # then that event is left out (the period's first/last)
    assert ann_values == (expected, expected)
    assert bob_values[0] == bob_values[1] == EMPTY[function]


def test_exclude_first_of_a_single_event_leaves_nothing(make_person, make_event):
    # given one order only
    person = make_person(first_name="Solo")
    make_event(person, "Order Completed", at=NOW, properties={"amount": 5})
    # when repeat purchases are counted
    ((stored, python),) = run({"function": "count", "exclude": "first"}, person)
    # then it is 0
    assert stored == python == 0


def test_weekday_and_hour_in_the_organization_timezone(ann):
    # given orders on Wed, Mon, Mon, Fri, Sat, Sat (Berlin) / when the most common is asked
    ((weekday, weekday_py),) = run({"function": "most_common", "property": "$weekday"}, ann)
    ((before, before_py),) = run(
        {"function": "most_common", "property": "$weekday", "period": {"type": "before_today"}}, ann
    )
    ((hour, hour_py),) = run({"function": "most_common", "property": "$hour"}, ann)
    # then ties go to the most recent, and hours are local
    assert weekday == weekday_py == "Saturday"
    assert before == before_py == "Monday"
    assert hour == hour_py == 12


@pytest.mark.parametrize(
    ("prop", "period", "rank", "expected"),
    [
        ("category", "lifetime", 1, "Hats"),
        ("category", "lifetime", 2, "Shoes"),
        ("category", "lifetime", 3, "Bags"),
        ("category", "6m", 1, "Shoes"),  # Shoes 2 (130) vs Hats 2 (60): the larger amount wins
        ("category", "6m", 2, "Hats"),
        ("category", "6m", 3, None),
        ("product", "lifetime", 1, "A"),  # A 2 (150) vs B 2 (60)
        ("product", "lifetime", 2, "B"),
        ("product", "lifetime", 3, "C"),
    ],
)
def test_top_n_ties_broken_by_amount(ann, prop, period, rank, expected):
    # given the top-N ranking / when computed
    definition = {
        "function": "top",
        "property": prop,
        "rank": rank,
        "amount_property": "amount",
        "period": PERIODS[period],
    }
    ((stored, python),) = run(definition, ann)
    # then the rank-th value is returned
    assert stored == python == expected


def test_several_aggregates_over_one_event_share_one_pass(ann):
    # given five simple aggregates over the same event
    attributes = [
        services.computed_attribute_create(
            key=f"pass{i}",
            name="p",
            kind="aggregate",
            definition={"event": "Order Completed", **definition},
        )
        for i, definition in enumerate(
            [
                {"function": "count"},
                {"function": "sum", "property": "amount", "period": PERIODS["30d"]},
                {"function": "max", "property": "$timestamp"},
                {"function": "exists", "filters": [{"property": "payment", "op": "equals", "value": "cash"}]},
                {"function": "count_distinct", "property": "category", "period": PERIODS["7d"]},
            ]
        )
    ]
    # then computing them all over everyone is one statement (plus the bookkeeping reads)
    assert len(engine.steps(attributes)) == 1
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        engine.compute(attributes, person_ids=None, now=NOW, raise_errors=True)
    assert len([q for q in queries.captured_queries if "people_event" in q["sql"]]) == 1
    values = person_values(person_id=ann.pk, states=["draft"])
    assert [values[a.key]["value"] for a in attributes] == [6, 90.0, T[6], True, 2]


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"function": "median"}, "function"),
        ({"function": "sum"}, "property"),
        ({"function": "count", "property": "amount"}, "property"),
        ({"function": "sum", "property": "$weekday"}, "property"),
        ({"function": "count", "exclude": "middle"}, "exclude"),
        ({"function": "count", "period": {"type": "fortnight"}}, "period.type"),
        ({"function": "count", "period": {"type": "full_days", "value": 0}}, "period.value"),
        ({"function": "count", "period": {"type": "since", "value": "soon"}}, "period.value"),
        ({"function": "count", "filters": [{"property": "a", "op": "gt", "value": "x"}]}, "filters[0].value"),
        ({"function": "top", "property": "category", "rank": 11}, "rank"),
    ],
)
def test_invalid_definitions_name_the_field(db, definition, field):
    from django.core.exceptions import ValidationError

    # given an invalid aggregate / when created
    with pytest.raises(ValidationError) as caught:
        services.computed_attribute_create(
            key="bad", name="bad", kind="aggregate", definition={"event": "Order Completed", **definition}
        )
    # then the error names the field
    assert f"definition.{field}" in caught.value.message_dict


def test_output_types_follow_function_and_property(db):
    # given aggregates of each kind / then their output types
    def output(definition):
        return services.computed_attribute_create(
            key=f"o{next(_keys)}", name="o", kind="aggregate", definition={"event": "E", **definition}
        ).output_type

    assert output({"function": "count"}) == "integer"
    assert output({"function": "sum", "property": "amount"}) == "decimal"
    assert output({"function": "exists"}) == "boolean"
    assert output({"function": "max", "property": "$timestamp"}) == "datetime"
    assert output({"function": "last", "property": "sku"}) == "text"
    assert output({"function": "last", "property": "price", "property_type": "number"}) == "decimal"
    assert output({"function": "most_common", "property": "$hour"}) == "integer"


def test_compute_answers_the_number_of_values_it_wrote(ann, bob, make_event):
    # given an order count of everyone, computed for the first time (stored fresh): Ann's value
    # (Bob, without orders, has none stored)
    count = services.computed_attribute_create(
        key="orders_written",
        name="Orders",
        kind="aggregate",
        definition={"function": "count", "event": "Order Completed"},
    )
    assert engine.compute([count], person_ids=None, now=NOW, raise_errors=True) == 1
    # when computed again with nothing new, then nothing is rewritten
    assert engine.compute([count], person_ids=None, now=NOW, raise_errors=True) == 0
    # when Bob orders, then only his value is written, over everyone and for him alone
    make_event(bob, "Order Completed", at=NOW)
    assert engine.compute([count], person_ids=None, now=NOW, raise_errors=True) == 1
    make_event(bob, "Order Completed", at=NOW)
    assert engine.compute([count], person_ids=[bob.pk], now=NOW, raise_errors=True) == 1
