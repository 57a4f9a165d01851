"""Custom formulas: every function, empty propagation, errors with positions; SQL = Python."""

import itertools
from datetime import UTC, datetime

import pytest

from computed import engine, selectors, services
from computed.lang.checker import check_formula
from computed.lang.parser import FormulaError
from computed.selectors import person_values
from people.models import AttributeDefinition

NOW = datetime(2024, 6, 15, 22, 30, tzinfo=UTC)  # already 2024-06-16 in Europe/Berlin
_keys = itertools.count()


@pytest.fixture
def person(make_person):
    for key, type_ in [
        ("clicks", "integer"),
        ("sent", "integer"),
        ("zero", "integer"),
        ("ratio", "decimal"),
        ("missing", "decimal"),
        ("nick", "text"),
        ("vip", "boolean"),
        ("renewal", "date"),
        ("signup", "datetime"),
    ]:
        AttributeDefinition.objects.create(key=key, label=key, type=type_)
    return make_person(
        first_name="Ann",
        last_name="Lee",
        birth_date=datetime(1990, 5, 1, tzinfo=UTC).date(),
        custom={
            "clicks": 5,
            "sent": 20,
            "zero": 0,
            "ratio": 2.5,
            "nick": "ann",
            "vip": True,
            "renewal": "2024-06-20",
            "signup": "2024-06-14T09:00:00Z",
        },
    )


@pytest.fixture
def both(db, settings):
    settings.ORGANIZATION_TIMEZONE = "Europe/Berlin"

    def run(formula: str, person):
        attribute = services.computed_attribute_create(
            key=f"f{next(_keys)}", name="f", kind="formula", definition={"formula": formula}
        )
        engine.compute([attribute], person_ids=[person.pk], now=NOW, raise_errors=True)
        stored = person_values(person_id=person.pk, states=["draft"])[attribute.key]["value"]
        python = selectors.run_profile_test(
            kind="formula", definition={"formula": formula}, person=person, now=NOW
        )
        return stored, python["value"]

    return run


GOLDEN = [
    ("round(100*(clicks/sent),0)", 25),
    ("round(100 * clicks / 3, 2)", 166.67),
    ("round(2.5)", 3),
    ("round(-2.5)", -3),
    ("round(ratio * 1.01, 1)", 2.5),
    ("clicks + sent * 2 - 1", 44),
    ("clicks / sent", 0.25),
    ("-clicks % 3", 1),
    ("clicks % 3", 2),
    ("clicks / zero", None),
    ("clicks % zero", None),
    ("missing + 1", None),
    ("coalesce(missing, 0) + 1", 1.0),
    ("coalesce(missing, ratio, 1)", 2.5),
    ("floor(ratio)", 2),
    ("ceil(ratio)", 3),
    ("floor(-ratio)", -3),
    ("abs(-ratio)", 2.5),
    ("min(clicks, sent, 7)", 5),
    ("max(clicks, sent, ratio)", 20.0),
    ("max(clicks, missing)", None),
    ("min(renewal, today())", "2024-06-16"),
    ("if(vip, 'gold', 'basic')", "gold"),
    ("if(clicks > 10, 1, 0)", 0),
    ("if(missing > 1, 1, 0)", None),
    ("if(vip, 1, missing)", 1),
    ("concat(first_name, ' ', last_name)", "Ann Lee"),
    ("concat(nick, '-', clicks)", "ann-5"),
    ("concat(nick, city)", None),
    ("lower(last_name)", "lee"),
    ("upper(nick)", "ANN"),
    ("length(first_name)", 3),
    ("contains(last_name, 'e')", True),
    ("contains(last_name, 'E')", False),
    ("clicks > 3 and vip", True),
    ("clicks > 3 and not vip", False),
    ("clicks > 30 or vip", True),
    ("missing > 1 or vip", None),
    ("nick = 'ann'", True),
    ("nick != 'ann'", False),
    ("nick < 'bob'", True),
    ("'B' < 'a'", True),
    ("ratio >= 2.5", True),
    ("renewal > today()", True),
    ("vip = true", True),
    ("today()", "2024-06-16"),
    ("now()", "2024-06-15T22:30:00+00:00"),
    ("date_diff('days', renewal, today())", -4),
    ("date_diff('weeks', date('2024-01-01'), renewal)", 24),
    ("date_diff('hours', signup, now())", 37),
    ("date_diff('days', birth_date, signup)", 12463),
    ("add_days(renewal, 12)", "2024-07-02"),
    ("add_days(signup, -1)", "2024-06-13T09:00:00+00:00"),
    ("year(birth_date)", 1990),
    ("month(renewal)", 6),
    ("day(signup)", 14),
    ("day(datetime('2024-06-15T22:30:00Z'))", 16),
    ("days_since(birth_date)", 12465),
    ("days_since(signup)", 1),
    ("days_since(city_missing_date)", None),
    ("round(days_since(renewal) / 7, 1)", -0.6),
]


@pytest.mark.parametrize(("formula", "expected"), GOLDEN)
def test_formula_golden(person, both, formula, expected):
    if "city_missing_date" in formula:
        AttributeDefinition.objects.create(key="city_missing_date", label="x", type="date")
    # given a profile / when the formula is computed in SQL and in Python
    stored, python = both(formula, person)
    # then both give the expected value
    assert python == expected
    assert stored == expected


@pytest.mark.parametrize(
    ("formula", "column", "message"),
    [
        ("round(100*(clicks/sent,0)", 23, "expected ')'"),
        ("clicks +", 9, "unexpected end of the formula"),
        ("clicks $ 2", 8, "unexpected character '$'"),
        ("nope + 1", 1, "unknown attribute 'nope'"),
        ("clicks + nick", 10, "'+' expects a whole number or a number; got text"),
        ("frobnicate(1)", 1, "unknown function 'frobnicate'"),
        ("round()", 1, "round() takes 1 to 2 arguments; got 0"),
        ("if(vip, 1)", 1, "if() takes 3 arguments; got 2"),
        ("min(1)", 1, "min() takes at least 2 arguments"),
        ("round(ratio, clicks)", 14, "digits as a whole number"),
        ("if(clicks, 1, 2)", 4, "if() condition expects true/false"),
        ("if(vip, 1, 'x')", 1, "if() expects arguments of one type"),
        ("nick < 3", 6, "cannot compare text with a whole number"),
        ("vip < true", 5, "does not apply to true/false"),
        ("date_diff('fortnights', renewal, today())", 11, "unit as one of"),
        ("date('2024-02-30')", 6, "date() expects YYYY-MM-DD"),
        ("add_days(renewal, 1.5)", 19, "add_days() expects a whole number"),
        ("concat(nick, ratio)", 14, "concat() expects text or a whole number"),
        ("not clicks", 5, "'not' expects true/false"),
        ("today", 1, "did you mean the function today()?"),
    ],
)
def test_formula_errors_name_the_column(person, formula, column, message):
    # given an invalid formula / when checked
    with pytest.raises(FormulaError) as caught:
        check_formula(formula)
    # then the error says where and what
    assert caught.value.column == column
    assert message in caught.value.message


def test_formula_output_types(person):
    # given formulas of each result type / then the output type follows the expression
    assert check_formula("clicks + 1").output_type == "integer"
    assert check_formula("clicks / 2").output_type == "decimal"
    assert check_formula("round(ratio, 1)").output_type == "decimal"
    assert check_formula("round(ratio)").output_type == "integer"
    assert check_formula("concat(nick, 'x')").output_type == "text"
    assert check_formula("vip and true").output_type == "boolean"
    assert check_formula("add_days(renewal, 1)").output_type == "date"
    assert check_formula("now()").output_type == "datetime"


def test_formula_can_use_active_computed_attributes(person, make_event, make_computed, stored_value):
    # given an active aggregate
    make_event(person, "Email Clicked")
    make_event(person, "Email Clicked")
    clicks = make_computed(
        "email_clicks", "aggregate", {"function": "count", "event": "Email Clicked"}, activate=True
    )
    # when a formula uses it
    formula = make_computed(
        "click_rate", "formula", {"formula": "round(100 * email_clicks / sent, 1)"}, activate=True
    )
    # then it depends on it and computes from it
    assert list(formula.dependencies.all()) == [clicks]
    assert stored_value(formula, person) == 10.0
