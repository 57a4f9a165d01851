"""Promoting what a permissive channel saw without a definition: the event becomes a definition with
the properties it was seen with, through people's service."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from identity.models import SeenUndefined
from people.models import EventDefinition
from people.services import event_definition_promote

pytestmark = pytest.mark.django_db


def _promote(client, rows):
    return client.post(
        reverse("admin:identity_seenundefined_changelist"),
        {"action": "promote", "_selected_action": [r.pk for r in rows]},
        follow=True,
    )


def test_promoting_an_event_defines_it_with_its_seen_properties(client, admin_user, make_channel):
    # given an event seen with two properties in its example, and a third property seen later
    web = make_channel("web")
    event = SeenUndefined.objects.create(
        kind="event", channel=web, event_name="Order Completed", example={"total": 12.5, "coupon": "X1"}
    )
    later = SeenUndefined.objects.create(
        kind="property", channel=web, event_name="Order Completed", key="items", example=3
    )
    client.force_login(admin_user)
    # when
    response = _promote(client, [event])
    # then
    assert "Promoted 1 item(s) to definitions." in response.content.decode()
    definition = EventDefinition.objects.get(name="Order Completed")
    assert dict(definition.properties.values_list("key", "type")) == {
        "total": "decimal",
        "coupon": "text",
        "items": "integer",
    }
    assert not SeenUndefined.objects.filter(pk__in=[event.pk, later.pk]).exists()


def test_promoting_a_property_adds_it_and_keeps_existing_ones(client, admin_user, make_channel):
    # given a defined event with one property, and a new property seen for it
    definition = event_definition_promote(name="Signed Up", properties={"plan": "text"})
    row = SeenUndefined.objects.create(
        kind="property", channel=make_channel("web"), event_name="Signed Up", key="trial", example=True
    )
    client.force_login(admin_user)
    # when
    _promote(client, [row])
    # then
    assert dict(definition.properties.values_list("key", "type")) == {"plan": "text", "trial": "boolean"}


@pytest.mark.parametrize(
    ("name", "properties", "message"),
    [
        ("", {}, "This field cannot be blank"),
        ("x" * 201, {}, "at most 200 characters"),
        ("Ok", {"k" * 129: "text"}, "at most 128 characters"),
        ("Ok", {"amount": "money"}, "is not a valid choice"),
    ],
)
def test_bad_promotions_are_rejected_whole(name, properties, message):
    # when
    with pytest.raises(ValidationError) as error:
        event_definition_promote(name=name, properties=properties)
    # then
    assert message in " ".join(error.value.messages)
    assert not EventDefinition.objects.filter(name=name).exists()


def test_running_the_promotion_twice_is_harmless():
    event_definition_promote(name="Viewed", properties={"path": "text"})
    definition = event_definition_promote(name="Viewed", properties={"path": "integer"})
    assert dict(definition.properties.values_list("key", "type")) == {"path": "text"}
