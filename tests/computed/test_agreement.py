"""SQL (set-based, over everyone) and Python (one profile) agree on random data (hypothesis)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from computed import engine, plans, refresh, selectors, services
from computed.aggregates import FUNCTIONS
from computed.models import ComputedAttribute, ComputedValue
from computed.selectors import person_values
from people.models import AttributeDefinition, Event, Person
from tests.strategies import database_examples

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
AMOUNTS = st.one_of(st.none(), st.sampled_from([0, 0.25, 1.5, 2, -4, 10, 100.75]))
LABELS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "B"]))

events_strategy = st.lists(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=200 * 24), AMOUNTS, LABELS),  # hours ago
        max_size=6,
    ),
    min_size=1,
    max_size=4,
)

aggregate_strategy = st.fixed_dictionaries(
    {
        # every function but top, which also takes a rank and a tie-break property
        "function": st.sampled_from([f for f in FUNCTIONS if f != "top"]),
        "exclude": st.sampled_from([None, "first", "last"]),
        "period": st.sampled_from(
            [
                {"type": "lifetime"},
                {"type": "full_days", "value": 7},
                {"type": "full_days", "value": 90},
                {"type": "last_hours", "value": 24},
                {"type": "full_months", "value": 3},
                {"type": "before_today"},
            ]
        ),
        "filters": st.sampled_from(
            [
                [],
                [{"property": "amount", "op": "gt", "value": 0}],
                [{"property": "label", "op": "is_not_empty"}],
            ]
        ),
        "prop": st.sampled_from(["amount", "label", "$timestamp"]),
    }
)


def _load(people_events):
    Event.objects.all().delete()
    Person.objects.all().delete()
    people = []
    for i, events in enumerate(people_events):
        person = Person.objects.create(first_name=f"p{i}")
        for j, (hours, amount, label) in enumerate(events):
            props = {k: v for k, v in (("amount", amount), ("label", label)) if v is not None}
            Event.objects.create(
                person=person,
                name="Buy",
                timestamp=NOW - timedelta(hours=hours),
                properties=props,
                message_id=f"{i}.{j}",
            )
        people.append(person)
    return people


def _assert_sql_agrees_with_python(attributes, people):
    """Each attribute computed set-based over everyone (SQL) has, for each person, the value the
    Python path computes for that person alone."""
    engine.compute(attributes, person_ids=None, now=NOW, raise_errors=True)
    for person in people:
        stored = person_values(person_id=person.pk, states=["draft"])
        for attribute in attributes:
            python = selectors.run_profile_test(
                kind=attribute.kind, definition=attribute.definition, person=person, now=NOW
            )
            assert stored[attribute.key]["value"] == python["value"], (attribute.definition, person.custom)


def _definition(spec):
    definition = {
        "function": spec["function"],
        "event": "Buy",
        "exclude": spec["exclude"],
        "period": spec["period"],
        "filters": spec["filters"],
    }
    function, prop = spec["function"], spec["prop"]
    if function in ("sum", "average"):
        definition["property"] = "amount"
    elif function in ("min", "max"):
        definition["property"] = "$timestamp" if prop == "$timestamp" else "amount"
    elif function in ("first", "last", "count_distinct", "most_common"):
        definition["property"] = prop
        if prop == "amount":
            definition["property_type"] = "number"
    return definition


@pytest.mark.slow
@database_examples(30)
@given(people_events=events_strategy, specs=st.lists(aggregate_strategy, min_size=3, max_size=3))
def test_aggregates_agree(people_events, specs):
    # given random events and three random aggregates
    ComputedAttribute.objects.all().delete()
    plans.clear_cache()
    people = _load(people_events)
    attributes = [
        services.computed_attribute_create(
            key=f"agg{i}", name="a", kind="aggregate", definition=_definition(spec)
        )
        for i, spec in enumerate(specs)
    ]
    # when computed set-based over everyone (shared passes where possible) and per person in Python
    # then they agree
    _assert_sql_agrees_with_python(attributes, people)


FORMULAS = st.sampled_from(
    [
        "x + y * 2",
        "x / y",
        "x % y",
        "round(x / 3, 2)",
        "floor(x) - ceil(y)",
        "abs(x - y)",
        "min(x, y)",
        "max(x, y, 1)",
        "coalesce(x, y, 0)",
        "if(x > y, x, y)",
        "x > 1 and y < 5",
        "not (x = y) or x >= 0",
        "concat(t, '-', t)",
        "length(coalesce(t, ''))",
        "upper(t) = 'A'",
        "contains(t, 'b')",
        "if(flag, 1, 2)",
        "date_diff('days', d, date('2024-06-01'))",
        "add_days(d, 3) > date('2024-06-10')",
        "year(d) + month(d) + day(d)",
        "days_since(d)",
        # steps that can leave the supported range: empty in both
        "add_days(d, x * 30000)",
        "year(add_days(d, x * 100000))",
        "coalesce(add_days(d, 3), date('2000-01-01'))",
        "concat(x * 1000000000000000000, t)",
    ]
)


@pytest.mark.slow
@database_examples(30)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "x": st.one_of(st.none(), st.integers(min_value=-50, max_value=50)),
                "y": st.one_of(st.none(), st.sampled_from([0, 0.5, 2, 3, -7.25])),
                "t": st.one_of(st.none(), st.sampled_from(["a", "ab", "B", "xyz"])),
                "flag": st.one_of(st.none(), st.booleans()),
                "d": st.one_of(
                    st.none(),
                    st.sampled_from(["2024-01-31", "2024-06-15", "2023-02-28", "9999-12-30", "0001-01-02"]),
                ),
            }
        ),
        min_size=1,
        max_size=4,
    ),
    formulas=st.lists(FORMULAS, min_size=2, max_size=2),
)
def test_formulas_agree(rows, formulas):
    # given random attribute values
    ComputedAttribute.objects.all().delete()
    Person.objects.all().delete()
    plans.clear_cache()
    for key, type_ in [("x", "integer"), ("y", "decimal"), ("t", "text"), ("flag", "boolean"), ("d", "date")]:
        AttributeDefinition.objects.get_or_create(key=key, defaults={"label": key, "type": type_})
    people = [Person.objects.create(custom={k: v for k, v in row.items() if v is not None}) for row in rows]
    attributes = [
        services.computed_attribute_create(
            key=f"f{i}", name="f", kind="formula", definition={"formula": formula}
        )
        for i, formula in enumerate(formulas)
    ]
    # when computed in SQL over everyone and in Python per person
    # then they agree
    _assert_sql_agrees_with_python(attributes, people)


RULE_CONDITIONS = st.sampled_from(
    [
        {"event": "Buy", "count": {"op": "gte", "value": 2}},
        {"event": "Buy", "window": {"type": "within", "value": 30, "unit": "days"}},
        {
            "event": "Buy",
            "count": {"op": "eq", "value": 0},
            "filters": [{"property": "label", "op": "equals", "value": "a"}],
        },
        {
            "event": "Buy",
            "count": {"op": "lt", "value": 3},
            "window": {"type": "between", "value": 1, "end": 60, "unit": "days"},
        },
        {"event": "Buy", "filters": [{"property": "amount", "op": "gt", "value": 1}]},
        {"event": "Buy", "window": {"type": "within", "value": 5, "unit": "hours"}},
        {"attribute": "buys", "op": "gte", "value": 2},
        {"attribute": "spent", "op": "is_empty"},
        {"attribute": "spent", "op": "lt", "value": 5},
        {"not": {"event": "Buy", "window": {"type": "before", "value": 2, "unit": "days"}}},
        {
            "or": [
                {"attribute": "first_name", "op": "equals", "value": "p0"},
                {"event": "Buy", "count": {"op": "gt", "value": 3}},
            ]
        },
    ]
)


@pytest.mark.slow
@database_examples(25)
@given(
    people_events=events_strategy,
    rules=st.lists(st.tuples(RULE_CONDITIONS, st.sampled_from([-5, 3, 10])), min_size=1, max_size=4),
)
def test_scores_agree(people_events, rules):
    # given random events, two active aggregates and a random scoring model over them
    ComputedAttribute.objects.all().delete()
    plans.clear_cache()
    refresh.clear_cache()
    people = _load(people_events)
    inputs = [
        services.computed_attribute_create(
            key="buys", name="b", kind="aggregate", definition={"function": "count", "event": "Buy"}
        ),
        services.computed_attribute_create(
            key="spent",
            name="s",
            kind="aggregate",
            definition={"function": "average", "event": "Buy", "property": "amount"},
        ),
    ]
    services.activate_many(inputs)
    definition = {"rules": [{"condition": c, "points": p} for c, p in rules]}
    score = services.computed_attribute_create(key="score", name="s", kind="score", definition=definition)

    def check(now):
        for person in people:
            stored = person_values(person_id=person.pk, states=["draft", "active"])["score"]["value"]
            python = selectors.run_profile_test(kind="score", definition=definition, person=person, now=now)
            assert stored == python["value"], (definition, person.pk, now)

    # when computed set-based over everyone (one FILTERed event pass, inputs joined) / then Python agrees
    engine.compute([score], person_ids=None, now=NOW, raise_errors=True)
    check(NOW)
    # when refreshed person by person through the cached program, at two instants / then too
    ComputedAttribute.objects.filter(pk=score.pk).update(state="active")
    ComputedValue.objects.filter(attribute=score).delete()
    for now in (NOW, NOW + timedelta(hours=5, minutes=7)):
        for person in people:
            services.refresh_person(person.pk, now=now)
        check(now)
