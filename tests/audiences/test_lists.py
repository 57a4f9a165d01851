"""List attributes (a person's loans): any, all or no item matching conditions on its fields, and the
number of matching items — SQL (audience refresh) and Python (explain) on the same golden cases."""

from datetime import UTC, date, datetime, timedelta

import pytest

from people.models import AttributeDefinition
from tests.audiences.conftest import assert_members

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
TODAY = date(2024, 6, 15)


def loan(days: int, amount: float, status: str = "open") -> dict:
    return {"due_date": (TODAY + timedelta(days=days)).isoformat(), "amount": amount, "status": status}


@pytest.fixture
def borrowers(db, make_person, known):
    AttributeDefinition.objects.create(
        key="loans",
        label="Loans",
        type="list",
        item_schema=[
            {"key": "due_date", "type": "date"},
            {"key": "amount", "type": "decimal"},
            {"key": "status", "type": "text"},
        ],
    )
    return {
        "Ann": known(
            make_person(first_name="Ann", custom={"loans": [loan(3, 500), loan(40, 100, "closed")]})
        ),
        "Bob": known(make_person(first_name="Bob", custom={"loans": [loan(20, 2000)]})),
        "Cid": known(make_person(first_name="Cid", custom={"loans": []})),
        "Dee": known(make_person(first_name="Dee", custom={})),
        "Eve": known(make_person(first_name="Eve", custom={"loans": [loan(1, 50), loan(6, 70)]})),
        "Fay": known(make_person(first_name="Fay", custom={"loans": "not a list"})),
    }


DUE_SOON = [{"field": "due_date", "op": "within_next_days", "value": 7}]
CASES = [
    ("any item due within 7 days", {"op": "any", "where": DUE_SOON}, {"Ann", "Eve"}),
    ("no item due within 7 days", {"op": "none", "where": DUE_SOON}, {"Bob", "Cid", "Dee", "Fay"}),
    (
        "all items due within 7 days (vacuous for no items)",
        {"op": "all", "where": DUE_SOON},
        {"Eve", "Cid", "Dee", "Fay"},
    ),
    (
        "any open item over 1000",
        {
            "op": "any",
            "where": [
                {"field": "amount", "op": "gt", "value": 1000},
                {"field": "status", "op": "equals", "value": "OPEN"},
            ],
        },
        {"Bob"},
    ),
    ("at least two items", {"op": "count", "where": [], "count": {"op": "gte", "value": 2}}, {"Ann", "Eve"}),
    (
        "exactly one item due within 7 days",
        {"op": "count", "where": DUE_SOON, "count": {"op": "eq", "value": 1}},
        {"Ann"},
    ),
    ("no items at all", {"op": "count", "count": {"op": "eq", "value": 0}}, {"Cid", "Dee", "Fay"}),
    ("list is empty (a non-list value is empty)", {"op": "is_empty"}, {"Dee", "Cid", "Fay"}),
]


@pytest.mark.parametrize("label,spec,expected", CASES, ids=[c[0] for c in CASES])
def test_list_conditions(borrowers, make_audience, label, spec, expected):
    audience = make_audience(
        "borrowers", {"condition": {"attribute": "loans", **spec}}, activate=True, now=NOW
    )
    assert_members(audience, borrowers, expected, now=NOW)


BAD = [
    (
        {"op": "any", "where": [{"field": "nope", "op": "equals", "value": 1}]},
        "definition.condition.where[0].field",
        "unknown field 'nope' of 'loans'",
    ),
    (
        {"op": "any", "where": [{"field": "amount", "op": "gt", "value": "x"}]},
        "definition.condition.where[0].value",
        "expected a number",
    ),
    (
        {"op": "any", "where": [{"field": "due_date", "op": "contains", "value": "x"}]},
        "definition.condition.where[0].op",
        "unknown operator 'contains' for date",
    ),
    ({"op": "any", "where": "x"}, "definition.condition.where", "expected a list of conditions"),
    (
        {"op": "any", "where": [{"op": "equals"}]},
        "definition.condition.where[0].field",
        "expected a field name",
    ),
    ({"op": "count", "where": []}, "definition.condition.count.op", "expected one of"),
    (
        {"op": "count", "count": {"op": "gte", "value": -2}},
        "definition.condition.count.value",
        "expected a whole number",
    ),
]


@pytest.mark.parametrize("spec,path,message", BAD, ids=[b[1] for b in BAD])
def test_bad_list_conditions_name_the_path(borrowers, spec, path, message):
    from django.core.exceptions import ValidationError

    from audiences.services import validate

    with pytest.raises(ValidationError) as caught:
        validate(audience_type="rules", definition={"condition": {"attribute": "loans", **spec}})
    assert any(message in m for m in caught.value.message_dict[path]), caught.value.message_dict
