"""The property template language and the attribute-value coercion: rendering and bad templates."""

from decimal import Decimal

import pytest

from actions import templating
from actions.targeting import coerce

VALUES = {
    "first_name": "Ada",
    "empty": "",
    "points": 12.0,
    "vip": True,
    "payments": [{"amount": 10, "due": "2026-07-01"}, {"amount": 20.5}, {"amount": 30, "due": "2026-09-01"}],
    "address": {"city": "Berlin"},
}


@pytest.mark.parametrize(
    "template,expected",
    [
        ("Hi {{first_name|there}}!", "Hi Ada!"),
        ("Hi {{ first_name | there }}!", "Hi Ada!"),
        ("Hi {{empty|there}}!", "Hi there!"),
        ("Hi {{missing|there}}!", "Hi there!"),
        ("Hi {{missing}}!", "Hi !"),
        ("{{points}} points, vip={{vip}}", "12 points, vip=true"),
        ("{{address.city}}", "Berlin"),
        ("{{payments.1.amount}} / {{payments.1.due|?}} / {{payments.9.amount|none}}", "20.5 / ? / none"),
        ("{{#each payments 2}}[{{@number}}:{{amount}}]{{/each}}", "[1:10][2:20.5]"),
        ("{{#each payments}}{{due|-}},{{/each}}", "2026-07-01,-,2026-09-01,"),
        ("{{#each payments 1}}{{first_name}}{{/each}}", "Ada"),
        ("{{#each missing 3}}x{{/each}}none", "none"),
        ("{{payments}}", ""),
        ("no placeholders", "no placeholders"),
        ("{{first_name|a|b}}", "Ada"),
    ],
)
def test_rendering(template, expected):
    assert templating.render(templating.parse(template), VALUES.get) == expected


@pytest.mark.parametrize(
    "template,message",
    [
        ("Hi {{first_name", "column 4: '{{' is not closed with '}}'"),
        ("{{}}", "column 1: expected an attribute key like {{first_name|fallback}}; got {{}}"),
        ("{{1abc}}", "column 1: expected an attribute key"),
        ("{{first_name()}}", "column 1: expected an attribute key"),
        ("{{__import__('os')}}", "column 1: expected an attribute key"),
        ("{{#each payments}}x", "column 1: {{#each ...}} is not closed with {{/each}}"),
        ("x{{/each}}", "column 2: {{/each}} without {{#each ...}}"),
        ("{{#each payments 0}}{{/each}}", "column 1: #each takes at most 100 items"),
        ("{{#each payments 101}}{{/each}}", "column 1: #each takes at most 100 items"),
        ("x" * 10_001, "column 1: the template is longer than 10000 characters"),
    ],
)
def test_bad_templates_name_the_column(template, message):
    with pytest.raises(templating.TemplateError) as exc:
        templating.parse(template)
    assert str(exc.value).startswith(message)


def test_references_are_the_attribute_keys():
    nodes = templating.parse("{{first_name}} {{#each payments}}{{amount}}{{/each}} {{@number}}")
    assert templating.references(nodes) == {"first_name", "payments", "amount"}


@pytest.mark.parametrize(
    "value,value_type,expected",
    [
        ("12", "integer", 12),
        (12.0, "integer", 12),
        ("1.5", "float", 1.5),
        (Decimal("2.50"), "string", "2.5"),
        (7.0, "string", "7"),
        ("yes", "boolean", True),
        ("0", "boolean", False),
        (True, "integer", 1),
        ([1, 2], "raw", [1, 2]),
    ],
)
def test_coercion(value, value_type, expected):
    assert coerce(value, value_type) == expected


@pytest.mark.parametrize(
    "value,value_type",
    [
        ("abc", "integer"),
        (1.5, "integer"),
        ("maybe", "boolean"),
        ([1], "string"),
        ("nan", "float"),
        ("inf", "integer"),
    ],
)
def test_coercion_failures_fall_back(value, value_type):
    with pytest.raises((ValueError, TypeError, OverflowError)):
        coerce(value, value_type)
