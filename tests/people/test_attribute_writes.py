from datetime import timedelta

import pytest
from django.utils import timezone

from people.attributes import AttributeValueError, UnknownAttributeError
from people.models import AttributeChange, AttributeType, Source
from people.services import AttributeWrite, attribute_definition_create, person_write_attributes

NOW = timezone.now()


@pytest.fixture
def plan(db):
    return attribute_definition_create(key="plan", label="Plan", type=AttributeType.TEXT)


def test_set_writes_value_meta_and_one_audit_row(make_person, make_source, plan):
    # given
    person = make_person()
    source = make_source().source
    # when
    result = person_write_attributes(
        person=person,
        writes=[AttributeWrite("plan", "gold"), AttributeWrite("first_name", " Ada ")],
        source=source,
        at=NOW,
    )
    # then
    person.refresh_from_db()
    assert person.custom == {"plan": "gold"}
    assert person.first_name == "Ada"
    assert person.attribute_meta["plan"]["source"] == source.pk
    assert set(result.changed) == {"plan", "first_name"}
    assert AttributeChange.objects.filter(person=person).count() == 2


def test_unchanged_value_writes_no_audit_row(make_person, plan):
    person = make_person()
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold")], at=NOW)
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold")], at=NOW + timedelta(1))
    assert AttributeChange.objects.filter(person=person, key="plan").count() == 1


def test_older_write_never_overwrites_newer_value(make_person, make_source, plan):
    person = make_person()
    source = make_source().source
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold")], source=source, at=NOW)
    result = person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "silver")], source=source, at=NOW - timedelta(days=1)
    )
    person.refresh_from_db()
    assert person.custom["plan"] == "gold"
    assert result.ignored == {"plan": "older than the stored value"}


def test_lower_priority_source_cannot_overwrite_higher(make_person, make_source, make_channel, plan):
    person = make_person()
    sdk = make_source("App", priority=Source.Priority.SDK).source
    csv = make_source("CSV upload", priority=Source.Priority.CSV).source
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold")], source=sdk, at=NOW)
    person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "bronze")], source=csv, at=NOW + timedelta(hours=1)
    )
    person.refresh_from_db()
    assert person.custom["plan"] == "gold"


def test_read_only_source_writes_nothing(make_person, make_source, plan):
    person = make_person()
    source = make_source(protection=Source.Protection.READ_ONLY).source
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold")], source=source)
    person.refresh_from_db()
    assert person.custom == {}


def test_set_once_keeps_the_first_value(make_person, plan):
    person = make_person()
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold", "set_once")], at=NOW)
    person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "silver", "set_once")], at=NOW + timedelta(1)
    )
    person.refresh_from_db()
    assert person.custom["plan"] == "gold"


def test_unset_clears_the_value(make_person, plan):
    person = make_person(custom={"plan": "gold"})
    person_write_attributes(person=person, writes=[AttributeWrite("plan", op="unset")], at=NOW)
    person.refresh_from_db()
    assert "plan" not in person.custom


@pytest.mark.parametrize(
    ("type_", "value", "stored"),
    [
        (AttributeType.INTEGER, "42", 42),
        (AttributeType.DECIMAL, "19.90", 19.9),
        (AttributeType.BOOLEAN, "yes", True),
        (AttributeType.DATE, "2024-02-29", "2024-02-29"),
        (AttributeType.DATETIME, "2024-02-29T10:00:00+02:00", "2024-02-29T08:00:00Z"),
    ],
)
def test_values_are_cast_to_the_attribute_type(make_person, type_, value, stored):
    attribute_definition_create(key="thing", label="Thing", type=type_)
    person = make_person()
    person_write_attributes(person=person, writes=[AttributeWrite("thing", value)])
    person.refresh_from_db()
    assert person.custom["thing"] == stored


def test_bad_value_names_attribute_value_and_type_and_writes_nothing(make_person):
    attribute_definition_create(key="visits", label="Visits", type=AttributeType.INTEGER)
    person = make_person()
    with pytest.raises(AttributeValueError) as error:
        person_write_attributes(
            person=person, writes=[AttributeWrite("first_name", "Ada"), AttributeWrite("visits", "many")]
        )
    assert error.value.messages == ["Attribute 'visits' expects a whole number; got 'many'."]
    person.refresh_from_db()
    assert person.first_name == ""


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        (AttributeType.DATETIME, "9999-12-31T23:00:00-05:00", "a date and time (ISO 8601)"),
        (AttributeType.DATETIME, "0001-01-01T01:00:00+05:00", "a date and time (ISO 8601)"),
        (AttributeType.DECIMAL, 10**400, "a decimal number"),
    ],
)
def test_values_past_the_types_range_are_refused_with_a_reason(make_person, type_, value, expected):
    """A value whose conversion overflows (an offset past year 9999, an integer past a double) is a bad
    value like any other: a clear error naming the attribute, never an OverflowError to the caller."""
    attribute_definition_create(key="thing", label="Thing", type=type_)
    person = make_person()
    with pytest.raises(AttributeValueError) as error:
        person_write_attributes(person=person, writes=[AttributeWrite("thing", value)])
    assert error.value.messages[0].startswith(f"Attribute 'thing' expects {expected}; got ")
    person.refresh_from_db()
    assert "thing" not in person.custom


def test_unknown_attribute_is_refused(make_person):
    with pytest.raises(UnknownAttributeError):
        person_write_attributes(person=make_person(), writes=[AttributeWrite("nope", 1)])


def test_phone_is_stored_in_e164(make_person):
    person = make_person()
    person_write_attributes(person=person, writes=[AttributeWrite("phone", "+44 20 7946 0958")])
    person.refresh_from_db()
    assert person.phone == "+442079460958"


def test_manual_write_with_an_older_time_does_not_overwrite_a_newer_value(make_person, make_source, plan):
    # given an SDK wrote "gold" now
    person = make_person()
    person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "gold")], source=make_source().source, at=NOW
    )
    # when an operator replays an old value with its old time
    result = person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "silver")], at=NOW - timedelta(days=30)
    )
    # then the newer value stays and its time does not move back
    person.refresh_from_db()
    assert person.custom["plan"] == "gold"
    assert result.ignored == {"plan": "older than the stored value"}
    assert person.attribute_meta["plan"]["at"] == NOW.isoformat()


def test_manual_write_overrides_a_higher_priority_source(make_person, make_source, plan):
    person = make_person()
    account = make_source("CRM", priority=Source.Priority.ACCOUNT).source
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "gold")], source=account, at=NOW)
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "vip")], at=NOW + timedelta(1))
    person.refresh_from_db()
    assert person.custom["plan"] == "vip"


def test_set_once_keeps_the_earliest_event_whatever_the_arrival_order(make_person, plan):
    # given a later set-once arrives first
    person = make_person()
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "late", "set_once")], at=NOW)
    # when the earlier one arrives
    person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "early", "set_once")], at=NOW - timedelta(hours=1)
    )
    # then the earliest event's value is kept
    person.refresh_from_db()
    assert person.custom["plan"] == "early"


def test_set_once_never_replaces_a_value_that_was_set(make_person, plan):
    person = make_person()
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "chosen")], at=NOW)
    person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "early", "set_once")], at=NOW - timedelta(hours=1)
    )
    person.refresh_from_db()
    assert person.custom["plan"] == "chosen"
