"""Bad definitions are refused with their path or column (never a 500), over the API and in the admin."""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from computed.models import ComputedAttribute

URL = "/api/computed-attributes/"
COND = {"attribute": "email", "op": "is_not_empty"}


def _nested_not(levels: int) -> str:
    """A scoring definition whose condition is ``levels`` nested "not"s (as JSON text: too deep for
    the test client's encoder)."""
    condition = '{"not": ' * levels + json.dumps(COND) + "}" * levels
    return '{"rules": [{"label": "deep", "points": 1, "condition": ' + condition + "}]}"


def _nested_list(levels: int) -> str:
    return '{"function": "count", "event": "Buy", "filters": ' + "[" * levels + "]" * levels + "}"


FORMULA = "definition.formula"


def F(text: str) -> str:  # noqa: N802 - reads as a table column
    return json.dumps({"formula": text})


# (kind, definition as JSON text, where the error is, what it says)
BAD_DEFINITIONS = [
    ("formula", F("round(1e308*10, 0)"), FORMULA, "column 12"),
    ("formula", F("1e400 + 1"), FORMULA, "column 1: the number is too large"),
    (
        "formula",
        F("add_days(date('9999-12-31'), 100000)"),
        FORMULA,
        "column 1: add_days() left the supported range",
    ),
    ("formula", F("add_days(today(), 99999999999)"), FORMULA, "column 19: add_days() by more than"),
    ("formula", F("concat(1e19, 'x')"), FORMULA, "beyond ±9.2e18"),
    ("formula", F("1e308 % 1e-300"), FORMULA, "too large for a float8"),
    ("formula", F("'a\\u0000b'"), FORMULA, "column 1: text cannot contain a NUL"),
    ("formula", F("'a\\x00b'"), FORMULA, "cannot contain a NUL"),
    ("formula", F("'\\ud800'"), FORMULA, "lone surrogate"),
    ("formula", F("'\\q'"), FORMULA, "unknown escape"),
    ("formula", F("(" * 200 + "1" + ")" * 200), FORMULA, "nested too deeply"),
    ("formula", F("not " * 900 + "true"), FORMULA, "nested too deeply"),
    ("formula", F("- " * 1900 + "1"), FORMULA, "nested too deeply"),
    ("formula", F("1 + " * 200 + "1"), FORMULA, "nested too deeply"),
    ("formula", F("datetime('9999-12-31T23:00:00-05:00')"), FORMULA, "column 10"),
    ("aggregate", json.dumps({"function": "count", "event": "a\u0000b"}), "definition.event", "NUL"),
    ("aggregate", '{"function": "count", "event": "a\\ud800b"}', "definition.event", "lone surrogate"),
    (
        "aggregate",
        json.dumps(
            {
                "function": "count",
                "event": "Buy",
                "filters": [{"property": "p", "op": "equals", "value": "\u0000"}],
            }
        ),
        "definition.filters[0].value",
        "NUL",
    ),
    (
        "aggregate",
        json.dumps({"function": "count", "event": "Buy", "period": {"type": "full_days", "value": 10**30}}),
        "definition.period.value",
        "1 to 3660",
    ),
    ("aggregate", _nested_list(60), "definition.filters", "nested too deeply"),
    (
        "aggregate",
        '{"function": "count", "event": "Buy", "filters": [{"property": "a", "op": "gt", "value": NaN}]}',
        None,
        "JSON",  # "Value must be valid JSON." or "JSON parse error - Out of range float values ..."
    ),
    (
        "aggregate",
        '{"function": "count", "event": "Buy", "period": {"type": "full_days", "value": 1e400}}',
        None,
        "JSON",  # "Value must be valid JSON." or "JSON parse error - Out of range float values ..."
    ),
    ("score", _nested_not(3000), None, "nested too deeply"),
    ("score", _nested_not(800), "definition", "nested too deeply"),
    ("score", _nested_not(11), "definition.rules[0].condition", "nested too deeply (at most 10 levels)"),
]


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(user=admin_user)
    return client


@pytest.mark.parametrize(("kind", "definition", "path", "message"), BAD_DEFINITIONS)
def test_bad_definitions_are_refused_with_their_place(api, db, kind, definition, path, message):
    # given a definition that cannot be computed or stored
    body = f'{{"key": "bad", "name": "Bad", "kind": "{kind}", "definition": {definition}}}'
    # when it is created over the API
    response = api.generic("POST", URL, body, content_type="application/json")
    # then it is refused with the place of the problem, and nothing is stored
    assert response.status_code == 400, response.content[:500]
    text = json.dumps(response.json(), ensure_ascii=False)
    assert message in text, text[:800]
    if path is not None:
        assert path in text, text[:800]
    assert not ComputedAttribute.objects.exists()


@pytest.mark.parametrize(("kind", "definition", "path", "message"), BAD_DEFINITIONS)
def test_bad_definitions_are_refused_when_tested_on_a_profile(
    api, make_computed, make_person, kind, definition, path, message
):
    # given a valid draft of the same kind and a profile
    valid = {
        "formula": {"formula": "1 + 1"},
        "aggregate": {"function": "count", "event": "Buy"},
        "score": {"rules": [{"label": "any", "points": 1, "condition": COND}]},
    }[kind]
    attribute = make_computed("draft_one", kind, valid)
    person = make_person(email="ann@example.com")
    # when the bad definition is tried on the profile
    body = f'{{"person": {person.pk}, "definition": {definition}}}'
    response = api.generic("POST", f"{URL}{attribute.pk}/test/", body, content_type="application/json")
    # then the answer is 400 with the reason
    assert response.status_code == 400, response.content[:500]
    assert message in json.dumps(response.json(), ensure_ascii=False)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("round(1e308*10, 0)", "column 12: &#x27;*&#x27; gave a number too large"),
        ("add_days(date('9999-12-31'), 100000)", "column 1: add_days() left the supported range"),
        ("'a\\x00b'", "text cannot contain a NUL character"),
        ("(" * 200 + "1" + ")" * 200, "nested too deeply"),
    ],
)
def test_the_admin_builder_shows_the_column_of_a_bad_formula(admin_client, formula, message):
    # when a marketer saves a formula that can never be computed
    response = admin_client.post(
        reverse("admin:computed_computedattribute_add"),
        {"key": "bad", "name": "Bad", "kind": "formula", "formula": formula},
    )
    # then the form is shown again with the reason and its column
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ComputedAttribute.objects.exists()


def test_the_live_formula_check_answers_the_reason(admin_client):
    response = admin_client.get(
        reverse("admin:computed_computedattribute_formula_preview"), {"formula": "round(1e308*10, 0)"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "ok": False,
        "error": "column 12: '*' gave a number too large for a float8; this part is never valid",
    }


def test_the_admin_scoring_rules_refuse_deep_nesting(admin_client):
    # when a scoring model with 3,000 nested "not"s is saved from the builder
    rules = _nested_not(3000)[len('{"rules": ') : -1]
    response = admin_client.post(
        reverse("admin:computed_computedattribute_add"),
        {"key": "deep", "name": "Deep", "kind": "score", "rules": rules},
    )
    # then the form answers with the reason, nothing is stored
    assert response.status_code == 200
    assert "Invalid JSON: the JSON is nested too deeply" in response.content.decode()
    assert not ComputedAttribute.objects.exists()


def test_the_admin_test_on_a_profile_refuses_deep_nesting(admin_client, make_computed, make_person):
    attribute = make_computed(
        "score_one", "score", {"rules": [{"label": "any", "points": 1, "condition": COND}]}
    )
    person = make_person(email="ann@example.com")
    url = (
        reverse("admin:computed_computedattribute_change", args=[attribute.pk]).rstrip("/").rsplit("/", 1)[0]
    )
    response = admin_client.post(f"{url}/test/", {"person": person.pk, "definition": _nested_not(3000)})
    assert response.status_code == 200
    assert "The definition is not valid JSON: the JSON is nested too deeply" in response.content.decode()
    deep = admin_client.post(f"{url}/test/", {"person": person.pk, "definition": _nested_not(20)})
    assert "nested too deeply (at most 10 levels)" in deep.content.decode()
