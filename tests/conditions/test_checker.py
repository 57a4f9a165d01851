import pytest

from people import conditions
from people.conditions.ast import AttributeCondition, EventCondition, Window


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ("x", "", "expected an object"),
        ({}, "", "expected exactly one of"),
        ({"attribute": "nope", "op": "equals", "value": 1}, "attribute", "unknown attribute 'nope'"),
        ({"attribute": "country", "op": "gt", "value": 1}, "op", "unknown operator 'gt' for text"),
        ({"attribute": "event_count", "op": "gt", "value": "x"}, "value", "expected a number"),
        ({"attribute": "event_count", "op": "between", "value": [5, 1]}, "value", "low bound is above"),
        ({"attribute": "birth_date", "op": "before", "value": "1990-13-01"}, "value", "expected a date"),
        (
            {"attribute": "created_at", "op": "after", "value": "2024-01-01T10:00"},
            "value",
            "needs a timezone",
        ),
        ({"and": [{"attribute": "country", "op": "in", "value": []}]}, "and[0].value", "non-empty list"),
        ({"or": [{"not": {"event": ""}}]}, "or[0].not.event", "expected an event name"),
        ({"event": "Buy", "count": {"op": "about", "value": 1}}, "count.op", "expected one of"),
        ({"event": "Buy", "count": {"op": "gt", "value": -1}}, "count.value", "whole number"),
        ({"event": "Buy", "window": {"type": "between", "value": 5, "end": 2}}, "window.end", "greater than"),
        (
            {"event": "Buy", "window": {"type": "within", "value": 5, "unit": "weeks"}},
            "window.unit",
            "expected",
        ),
        (
            {"event": "Buy", "filters": [{"property": "a", "op": "gt", "value": "x"}]},
            "filters[0].value",
            "expected a number",
        ),
        (
            {"event": "Buy", "filters": [{"property": "", "op": "equals", "value": 1}]},
            "filters[0].property",
            "expected a property name (use dots for nested keys)",
        ),
        ({"event": "Buy", "filters": {"property": "a"}}, "filters", "expected a list of property filters"),
        ({"event": "Buy", "filters": ["a"]}, "filters[0]", "expected an object"),
        ({"last_contacted": {"op": "sometime"}}, "last_contacted.op", "expected one of"),
        ({"last_contacted": {"op": "on", "value": "soon"}}, "last_contacted.value", "expected a date"),
    ],
)
def test_checker_reports_the_path_of_each_problem(db, data, path, message):
    # given a malformed condition / when checked
    with pytest.raises(conditions.ConditionError) as caught:
        conditions.check(data)
    # then the issue names the path and what was expected
    issue = caught.value.issues[0]
    assert issue.path == path
    assert message in issue.message


def test_checker_collects_every_issue(db):
    # given two bad leaves
    data = {"and": [{"attribute": "nope", "op": "equals", "value": 1}, {"event": ""}]}
    # when checked
    with pytest.raises(conditions.ConditionError) as caught:
        conditions.check(data)
    # then both are reported
    assert [i.path for i in caught.value.issues] == ["and[0].attribute", "and[1].event"]


def test_checker_builds_the_tree(db):
    # given a valid condition
    data = {
        "and": [
            {"attribute": "country", "op": "equals", "value": "DE"},
            {
                "event": "Order Completed",
                "filters": [{"property": "amount", "op": "gte", "value": 10}],
                "count": {"op": "gte", "value": 2},
                "window": {"type": "within", "value": 30, "unit": "days"},
            },
        ]
    }
    # when checked
    tree = conditions.check(data)
    # then it is typed and references are known
    assert isinstance(tree.children[0], AttributeCondition)
    event = tree.children[1]
    assert isinstance(event, EventCondition)
    assert event.window == Window("within", 30, 0, "days")
    assert event.filters[0].predicate.type == "number"
    assert conditions.references(tree) == {"country"}
    assert conditions.event_names(tree) == {"Order Completed"}
    assert conditions.has_sliding_window(tree)


def test_checker_limits_size(db):
    # given too many nested nodes
    data = {"or": [{"attribute": "country", "op": "is_empty"}] * 250}
    # when / then
    with pytest.raises(conditions.ConditionError, match="too many"):
        conditions.check(data)
