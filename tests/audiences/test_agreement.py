"""The compiled SQL (full refresh, and the real-time form restricted to a few people) and the Python
evaluator agree on random data (hypothesis), rules and funnels alike."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from audiences import definition as definitions
from audiences import membership
from audiences.models import Audience
from identity.models import IdentifierType, Identity
from people.models import Event, Person
from people.selectors import organization_tz
from tests.strategies import condition_trees, database_examples

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)

people_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "country": st.sampled_from(["DE", "fr", ""]),
            "known": st.booleans(),
            "events": st.lists(
                st.tuples(
                    st.sampled_from(["A", "B", "C"]),
                    st.integers(min_value=0, max_value=48 * 4),  # quarter hours ago
                    st.sampled_from([None, "p1", "p2", 1, True]),
                ),
                max_size=6,
            ),
        }
    ),
    min_size=1,
    max_size=5,
)

event_leaf = st.builds(
    lambda name, op, n, window: {"event": name, "count": {"op": op, "value": n}, "window": window},
    st.sampled_from(["A", "B"]),
    st.sampled_from(["eq", "lt", "gte", "gt"]),
    st.integers(min_value=0, max_value=2),
    st.sampled_from(
        [{"type": "any"}, {"type": "within", "value": 12, "unit": "hours"}, {"type": "before", "value": 1}]
    ),
)
leaf = st.one_of(
    event_leaf,
    st.builds(lambda v: {"attribute": "country", "op": "equals", "value": v}, st.sampled_from(["de", "FR"])),
)
tree_strategy = condition_trees(leaf, max_leaves=4)

step = st.fixed_dictionaries(
    {"event": st.sampled_from(["A", "B", "C"])},
    optional={
        "within": st.sampled_from(
            [{"value": 1, "unit": "hours"}, {"value": 90, "unit": "minutes"}, {"value": 1, "unit": "days"}]
        ),
        "filters": st.sampled_from(
            [
                [{"property": "p", "same_as": "p"}],
                [{"property": "p", "op": "equals", "value": "p1"}],
                [{"property": "p", "op": "is_not_empty"}],
            ]
        ),
        "did_not": st.booleans(),
    },
)
NOT_ON_FIRST_STEP = {"within", "did_not"}  # the first step has no previous step to follow
funnel_strategy = st.builds(
    lambda first, rest: {
        "steps": [
            {
                k: v
                for k, v in first.items()
                if k not in NOT_ON_FIRST_STEP and not (k == "filters" and "same_as" in str(v))
            },
            *rest,
        ]
    },
    step,
    st.lists(step, min_size=1, max_size=3),  # "did not" anywhere after the first step, consecutive too
)


def _load(people):
    Event.objects.all().delete()
    Identity.objects.all().delete()
    Person.objects.all().delete()
    id_type, _ = IdentifierType.objects.get_or_create(key="user_id", defaults={"priority": 1})
    for i, spec in enumerate(people):
        person = Person.objects.create(first_name=f"p{i}", country=spec["country"])
        if spec["known"]:
            Identity.objects.create(type=id_type, value=f"u{i}", person=person)
        for j, (name, ago, prop) in enumerate(spec["events"]):
            Event.objects.create(
                person=person,
                name=name,
                timestamp=NOW - timedelta(minutes=15 * ago),
                properties={} if prop is None else {"p": prop},
                message_id=f"{i}-{j}",
            )


def _check(audience_type: str, definition: dict, include_anonymous: bool):
    compiled = definitions.check(audience_type, definition, include_anonymous=include_anonymous)
    audience = Audience.objects.create(
        key="x", name="x", type=audience_type, definition=definition, include_anonymous=include_anonymous
    )
    membership.refresh(audience.pk, now=NOW)
    audience.refresh_from_db()
    stored = set(audience.memberships.filter(version=audience.version).values_list("person_id", flat=True))
    everyone = list(Person.objects.all())
    python = {
        p.pk for p in everyone if definitions.evaluate(compiled, p, now=NOW, tz=organization_tz())["matched"]
    }
    sql, params = definitions.members_sql(
        compiled, now=NOW, tz=organization_tz(), person_ids=[p.pk for p in everyone]
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        few = {r[0] for r in cursor.fetchall()}
    audience.delete()
    assert stored == python, definition
    assert few == python, definition


@database_examples(25)
@given(people=people_strategy, trees=st.lists(tree_strategy, min_size=2, max_size=2), anon=st.booleans())
def test_rules_sql_and_python_agree(people, trees, anon):
    _load(people)
    for tree in trees:
        _check("rules", {"condition": tree}, anon)


@database_examples(60)
@given(people=people_strategy, funnels=st.lists(funnel_strategy, min_size=2, max_size=2))
def test_funnels_sql_and_python_agree(people, funnels):
    _load(people)
    for funnel in funnels:
        _check("funnel", funnel, True)
