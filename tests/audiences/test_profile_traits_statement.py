"""/traits reads a profile and every registered trait source in one statement: it must give what
each source reads on its own (``TraitSource.read``) and resolve merged profiles as
``person_by_identifier`` does."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from audiences import membership
from computed import services as computed_services
from computed.models import ComputedAttribute, ComputedValue
from identity import selectors
from identity.api.auth import forget_cached_tokens
from identity.extensions import trait_sources
from identity.services import access_token_create
from people.models import Event, Person

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
BASE = "/v1/spaces/main/collections/users/profiles"


def _computed(key: str, kind: str, definition: dict) -> ComputedAttribute:
    attribute = computed_services.computed_attribute_create(
        key=key, name=key, kind=kind, definition=definition
    )
    return computed_services.activate(attribute)


@pytest.fixture
def ann(make_person, known, make_audience):
    """Ann, with standard and custom attributes, computed attributes of every output type (stored
    values with awkward floats, times and text, and empty ones), in one audience, out of another."""
    ann = known(
        make_person(
            first_name="Ann",
            country="DE",
            birth_date=date(1990, 5, 17),
            custom={"plan": "pro", "tags": ["a", "b"], "none": None},
            attribute_meta={"first_name": {"source": None, "at": "2024-01-02T03:04:05Z"}},
        )
    )
    Event.objects.create(
        person=ann, name="Order Completed", properties={"amount": 0.1, "city": "Köln"}, timestamp=NOW
    )
    order = "Order Completed"
    _computed("orders", "aggregate", {"function": "count", "event": order, "period": {"type": "lifetime"}})
    _computed(
        "refunds", "aggregate", {"function": "count", "event": "Refunded", "period": {"type": "lifetime"}}
    )
    spent = _computed(
        "spent",
        "aggregate",
        {"function": "sum", "event": order, "property": "amount", "period": {"type": "lifetime"}},
    )
    _computed("bought", "aggregate", {"function": "exists", "event": order, "period": {"type": "lifetime"}})
    last_at = _computed(
        "last_order_at",
        "aggregate",
        {"function": "last", "event": order, "property": "$timestamp", "period": {"type": "lifetime"}},
    )
    city = _computed(
        "last_city",
        "aggregate",
        {"function": "last", "event": order, "property": "city", "period": {"type": "lifetime"}},
    )
    _computed("renews_on", "formula", {"formula": "add_days(today(), 1)"})
    stored = {
        spent: {"number": 0.1 + 0.2},
        last_at: {"moment": NOW + timedelta(microseconds=123450)},
        city: {"text": 'Köln "am Rhein"'},
    }
    for attribute, value in stored.items():
        ComputedValue.objects.update_or_create(attribute=attribute, person=ann, defaults=value)
    for key, country in (("germans", "DE"), ("french", "FR"), ("finns", "FI")):
        condition = {"attribute": "country", "op": "equals", "value": country}
        make_audience(key, {"condition": condition}, activate=True, now=NOW)
    for hours, country in ((1, "FR"), (2, "DE")):
        Person.objects.filter(pk=ann.pk).update(country=country)
        membership.refresh_people([ann.pk], now=NOW + timedelta(hours=hours))
    return Person.objects.get(pk=ann.pk)


@pytest.mark.parametrize("vendor", ["postgresql", "other"])  # one statement; or a read per source
@pytest.mark.parametrize("classes", [None, ["computed_trait"], ["audience", "trait"], ["trait"]])
def test_one_statement_reads_what_each_trait_source_reads_alone(ann, monkeypatch, vendor, classes):
    if vendor != connection.vendor:
        monkeypatch.setattr(connection, "vendor", "sqlite")  # any other database: the fallback
    # when Ann's profile is read for /traits
    profile = selectors.profile_for_traits(type_key="user_id", value=f"u{ann.pk}", classes=classes)
    # then it holds her columns and, per source asked for, what the source reads for her alone
    expected = {
        cls: source.read(ann) for cls, source in trait_sources.items() if not classes or cls in classes
    }
    assert profile.registered == expected
    assert set(expected.get("computed_trait", {})) <= {
        "orders",
        "refunds",
        "spent",
        "bought",
        "last_order_at",
        "last_city",
        "renews_on",
    }
    if not classes:
        assert expected["computed_trait"]["spent"]["value"] == 0.1 + 0.2
        assert expected["computed_trait"]["last_order_at"]["value"] == "2024-06-15T12:00:00.123450+00:00"
        assert expected["audience"]["germans"]["value"] is True
        assert expected["audience"]["french"]["value"] is False
    for name in ("id", "merged_into_id", "first_name", "country", "birth_date", "custom", "attribute_meta"):
        assert getattr(profile, name) == getattr(ann, name)


@pytest.mark.postgres
@pytest.mark.parametrize("cycle", [False, True])
def test_a_merged_profiles_identifier_resolves_as_the_lookup_does(make_person, known, cycle):
    # given an identifier still on a profile merged into one itself merged (or, corrupt, a cycle)
    live = make_person(first_name="Live")
    middle = make_person(first_name="Middle", merged_into=live)
    child = known(make_person(first_name="Child", merged_into=middle), value="c1")
    if cycle:
        Person.objects.filter(pk=live.pk).update(merged_into=child)
    # when /traits reads it
    profile = selectors.profile_for_traits(type_key="user_id", value="c1", classes=None)
    # then it reads the profile the lookup resolves: the live one (in a cycle, where it came back)
    resolved = selectors.person_by_identifier(type_key="user_id", value="c1")
    assert (profile.pk, profile.first_name) == (resolved.pk, resolved.first_name)
    assert profile.first_name == ("Child" if cycle else "Live")


def test_traits_of_a_merged_child_are_the_parents_over_http(client, make_person, known, make_audience):
    # given Ann (a member of an audience) and a profile merged into her that kept an identifier
    forget_cached_tokens()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {access_token_create(name='t').raw}"}
    ann = known(make_person(first_name="Ann", country="DE"), value="ann")
    make_audience(
        "germans", {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}, activate=True
    )
    known(make_person(first_name="Old", country="FR", merged_into=ann), value="old")
    # when /traits is read through the child's identifier
    body = client.get(f"{BASE}/user_id:old/traits", {"verbose": "1"}, **auth).json()
    # then it is Ann's, with her membership
    assert body == client.get(f"{BASE}/user_id:ann/traits", {"verbose": "1"}, **auth).json() | {
        "cursor": body["cursor"]
    }
    assert body["traits"]["first_name"]["value"] == "Ann"
    assert body["traits"]["germans"] == {
        "value": True,
        "source": "audience",
        "source_id": None,
        "updated_at": body["traits"]["germans"]["updated_at"],
    }
