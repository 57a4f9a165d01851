"""Profile scoring: the sum of the points of the matching rules; 0 when none match."""

from datetime import UTC, datetime, timedelta

import pytest

from computed import engine, selectors, services
from computed.selectors import person_values

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)

RULES = [
    {
        "label": "Region1",
        "condition": {"attribute": "region", "op": "equals", "value": "Region1"},
        "points": 50,
    },
    {
        "label": "Region2",
        "condition": {"attribute": "region", "op": "equals", "value": "Region2"},
        "points": 25,
    },
    {
        "label": "Pricing page lately",
        "condition": {
            "event": "Page Viewed",
            "filters": [{"property": "url", "op": "ends_with", "value": "/pricing"}],
            "window": {"type": "within", "value": 90, "unit": "days"},
        },
        "points": 10,
    },
    {
        "label": "Frequent buyer",
        "condition": {"event": "Order Completed", "count": {"op": "gte", "value": 3}},
        "points": 20,
    },
    {
        "label": "No orders",
        "condition": {"event": "Order Completed", "count": {"op": "eq", "value": 0}},
        "points": -5,
    },
    {"label": "Never contacted", "condition": {"last_contacted": {"op": "unknown"}}, "points": -1},
]


@pytest.fixture
def people(make_person, make_event):
    ann = make_person(first_name="Ann", region="Region1", last_contacted_at=NOW)
    bob = make_person(first_name="Bob", region="Region2")
    cat = make_person(first_name="Cat", region="Region3", last_contacted_at=NOW)
    make_event(ann, "Page Viewed", at=NOW - timedelta(days=3), properties={"url": "https://x.com/pricing"})
    make_event(ann, "Page Viewed", at=NOW - timedelta(days=100), properties={"url": "https://x.com/pricing"})
    for days in (1, 2, 3):
        make_event(ann, "Order Completed", at=NOW - timedelta(days=days))
    make_event(bob, "Page Viewed", at=NOW - timedelta(days=200), properties={"url": "https://x.com/pricing"})
    make_event(cat, "Order Completed", at=NOW - timedelta(days=1))
    return ann, bob, cat


def test_score_sums_matching_rules(people):
    ann, bob, cat = people
    # given the scoring model / when computed over everyone and tested per profile
    model = services.computed_attribute_create(
        key="lead_score", name="Lead score", kind="score", definition={"rules": RULES}
    )
    engine.compute([model], person_ids=None, now=NOW, raise_errors=True)
    stored = {
        p.first_name: person_values(person_id=p.pk, states=["draft"])["lead_score"]["value"] for p in people
    }
    python = {
        p.first_name: selectors.run_profile_test(
            kind="score", definition=model.definition, person=p, now=NOW
        )["value"]
        for p in people
    }
    # then: Ann 50 + 10 + 20; Bob 25 - 5 - 1; Cat nothing but -0 → 0
    assert stored == python == {"Ann": 80, "Bob": 19, "Cat": 0}
    assert model.output_type == "integer"


def test_score_explains_which_rules_fired(people):
    ann = people[0]
    # when tested on a profile
    result = selectors.run_profile_test(kind="score", definition={"rules": RULES}, person=ann, now=NOW)
    # then each rule says whether it matched and what it read
    fired = {rule["label"]: rule["matched"] for rule in result["explanation"]["rules"]}
    assert fired == {
        "Region1": True,
        "Region2": False,
        "Pricing page lately": True,
        "Frequent buyer": True,
        "No orders": False,
        "Never contacted": False,
    }
    pricing = result["explanation"]["rules"][2]["steps"][0]
    assert pricing["count"] == 1


def test_new_profiles_are_scored_when_created(db, django_capture_on_commit_callbacks):
    from people.models import Person
    from people.services import AttributeWrite, person_write_attributes

    # given an active model
    model = services.computed_attribute_create(
        key="fit", name="Fit", kind="score", definition={"rules": RULES[:2]}
    )
    services.activate(model)
    # when a profile is created with attributes (after commit, the refresh task runs)
    with django_capture_on_commit_callbacks(execute=True):
        person = Person.objects.create()
        person_write_attributes(person=person, writes=[AttributeWrite("region", "Region2")])
    # then it has its score
    assert person_values(person_id=person.pk)["fit"]["value"] == 25


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ([], "definition.rules"),
        (
            [{"condition": {"attribute": "nope", "op": "equals", "value": 1}, "points": 5}],
            "definition.rules[0].condition.attribute",
        ),
        (
            [{"condition": {"attribute": "region", "op": "is_empty"}, "points": 1.5}],
            "definition.rules[0].points",
        ),
        (
            [{"condition": {"event": "X", "count": {"op": "gte", "value": -1}}, "points": 1}],
            "definition.rules[0].condition.count.value",
        ),
    ],
)
def test_invalid_rules_name_their_path(db, rules, path):
    from django.core.exceptions import ValidationError

    # given invalid rules / when saved
    with pytest.raises(ValidationError) as caught:
        services.computed_attribute_create(key="bad", name="Bad", kind="score", definition={"rules": rules})
    # then the error names the rule's path
    assert path in caught.value.message_dict
