"""The SQL filter and the Python evaluator agree on random data (hypothesis)."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from people import conditions
from people.models import AttributeDefinition, Event, Person
from tests.conditions.conftest import NOW, TZ
from tests.strategies import condition_trees, database_examples

WORDS = st.sampled_from(["alpha", "Beta", "gamma", "", "ALPHA"])
NUMBERS = st.sampled_from([0, 1, 2.5, -3, 10, 100])

people_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "country": st.sampled_from(["DE", "fr", "", "US"]),
            "score": st.one_of(st.none(), NUMBERS),
            "tag": st.one_of(st.none(), WORDS),
            "when": st.one_of(st.none(), st.sampled_from(["2024-06-01", "2024-06-15", "2023-12-31"])),
            "events": st.lists(
                st.tuples(
                    st.sampled_from(["Buy", "View"]),
                    st.integers(min_value=0, max_value=24 * 60),  # minutes ago / 30
                    st.one_of(st.none(), NUMBERS),
                    st.one_of(st.none(), WORDS),
                ),
                max_size=5,
            ),
        }
    ),
    min_size=1,
    max_size=5,
)

leaf = st.one_of(
    st.builds(
        lambda op, v: {"attribute": "country", "op": op, "value": v},
        st.sampled_from(["equals", "not_equals", "contains", "starts_with"]),
        st.sampled_from(["de", "FR", "u"]),
    ),
    st.builds(lambda op: {"attribute": "tag", "op": op}, st.sampled_from(["is_empty", "is_not_empty"])),
    st.builds(
        lambda op, v: {"attribute": "score", "op": op, "value": v},
        st.sampled_from(["lt", "lte", "gt", "gte", "equals", "not_equals"]),
        NUMBERS,
    ),
    st.builds(
        lambda op, v: {"attribute": "when", "op": op, "value": v},
        st.sampled_from(["before", "after", "on", "within_last_days", "more_than_days_ago"]),
        st.sampled_from(["2024-06-01", "2024-06-15"]),
    ).map(lambda c: {**c, "value": 10} if c["op"] in ("within_last_days", "more_than_days_ago") else c),
    st.builds(
        lambda name, op, n, window, filters: {
            "event": name,
            "count": {"op": op, "value": n},
            "window": window,
            "filters": filters,
        },
        st.sampled_from(["Buy", "View"]),
        st.sampled_from(["eq", "lt", "lte", "gte", "gt"]),
        st.integers(min_value=0, max_value=3),
        st.sampled_from(
            [
                {"type": "any"},
                {"type": "within", "value": 100, "unit": "hours"},
                {"type": "before", "value": 2, "unit": "days"},
                {"type": "between", "value": 1, "end": 10, "unit": "days"},
            ]
        ),
        st.sampled_from(
            [
                [],
                [{"property": "amount", "op": "gt", "value": 1}],
                [{"property": "label", "op": "equals", "value": "alpha"}],
                [{"property": "label", "op": "is_empty"}],
            ]
        ),
    ),
)
tree_strategy = condition_trees(leaf, max_leaves=5)


@pytest.mark.slow
@database_examples(30)
@given(people=people_strategy, data=st.lists(tree_strategy, min_size=3, max_size=3))
def test_sql_and_python_agree(people, data):
    # given random people and events
    Event.objects.all().delete()
    Person.objects.all().delete()
    AttributeDefinition.objects.get_or_create(key="score", defaults={"label": "Score", "type": "decimal"})
    AttributeDefinition.objects.get_or_create(key="tag", defaults={"label": "Tag", "type": "text"})
    AttributeDefinition.objects.get_or_create(key="when", defaults={"label": "When", "type": "date"})
    for i, spec in enumerate(people):
        custom = {k: spec[k] for k in ("score", "tag", "when") if spec[k] not in (None, "")}
        person = Person.objects.create(first_name=f"p{i}", country=spec["country"], custom=custom)
        for j, (name, ago, amount, label) in enumerate(spec["events"]):
            props = {k: v for k, v in (("amount", amount), ("label", label)) if v is not None}
            Event.objects.create(
                person=person,
                name=name,
                timestamp=NOW - timedelta(minutes=30 * ago),
                properties=props,
                message_id=f"{i}-{j}",
            )
    everyone = list(Person.objects.all())
    for condition in data:
        tree = conditions.check(condition)
        # when compiled to SQL (both forms) and evaluated in Python
        correlated = set(
            Person.objects.filter(conditions.to_q(tree, now=NOW, tz=TZ)).values_list("pk", flat=True)
        )
        grouped = set(
            Person.objects.filter(conditions.to_q(tree, now=NOW, tz=TZ, correlated=False)).values_list(
                "pk", flat=True
            )
        )
        python = {p.pk for p in everyone if conditions.matches(tree, p, now=NOW, tz=TZ)}
        # then they select the same people
        assert correlated == python, condition
        assert grouped == python, condition
