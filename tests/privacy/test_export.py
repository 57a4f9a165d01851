"""The access export holds everything the Person 360 page shows (and the raw rows behind it)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from computed.models import ComputedAttribute, ComputedValue
from people import extensions
from people.models import Channel, PersonChannelContact
from people.selectors import person_attribute_rows, person_latest_device, person_recent_changes
from people.services import attribute_definition_create
from privacy.models import RequestStatus
from tests.privacy.conftest import person_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def cleo(ingest):
    attribute_definition_create(key="favourite_tea", label="Favourite tea", type="text")
    for message in (
        {
            "type": "identify",
            "userId": "cleo-3",
            "anonymousId": "cleo-laptop",
            "traits": {
                "firstName": "Cleo",
                "city": "Lyon",
                "email": "cleo@example.org",
                "favourite_tea": "Sencha",
            },
            "context": {"device": {"manufacturer": "Fairphone", "model": "5"}, "os": {"name": "Android"}},
            "messageId": "c1",
        },
        {
            "type": "track",
            "userId": "cleo-3",
            "event": "Order Completed",
            "properties": {"total": 31.5, "sku": "TEA-77"},
            "messageId": "c2",
        },
        {"type": "track", "anonymousId": "cleo-phone", "event": "App Opened", "messageId": "c3"},
        {"type": "identify", "userId": "cleo-3", "anonymousId": "cleo-phone", "messageId": "c4"},
    ):
        ingest(message)  # one batch each: the phone's profile exists before it is merged
    person = person_of("user_id", "cleo-3")
    attribute = ComputedAttribute.objects.create(
        key="tea_orders", name="Tea orders", kind="formula", output_type="integer", state="active"
    )
    ComputedValue.objects.create(attribute=attribute, person=person, number=4)
    PersonChannelContact.objects.create(
        person=person, channel=Channel.objects.get(key="web"), last_contacted_at=timezone.now()
    )
    person.refresh_from_db()
    return person


def test_export_contains_everything_the_360_page_shows(cleo, admin_user, run_request, client):
    # given: what the 360 page shows
    client.force_login(admin_user)
    page = client.get(f"/admin/people/person/{cleo.pk}/change/").content.decode()
    shown_attributes = [row for row in person_attribute_rows(person=cleo) if row["value"] not in (None, "")]
    shown_identities = list(cleo.identities.values_list("type__key", "value"))
    shown_changes = list(person_recent_changes(person=cleo, limit=10).values_list("key", "new_value"))
    panels = {key: panel.context(cleo, None) for key, panel in extensions.person_panels.items()}
    assert "Sencha" in page
    # (the panels' own contexts are read directly: the page does not hand them to the panel templates
    # on this branch, it shows "No identifiers." — reported to the lead)
    assert "Fairphone 5" in page
    # when
    request = run_request("access", ("anonymous_id", "cleo-phone"), user=admin_user)
    # then
    assert request.status == RequestStatus.COMPLETED
    export = request.result
    attributes = {a["key"]: a for a in export["profile"]["attributes"]}
    for row in shown_attributes:
        assert attributes[row["key"]]["value"] == row["value"], row["key"]
        assert attributes[row["key"]]["source"] == row["source"]
    assert {"key", "label", "type", "source", "updated_at"} <= set(attributes["favourite_tea"])
    assert export["profile"]["recent_device"] == person_latest_device(person=cleo)
    assert export["profile"]["system"]["event_count"] == cleo.event_count == 4
    tables = export["tables"]
    assert sorted((r["type"], r["value"]) for r in tables["identity.Identity"]) == sorted(shown_identities)
    assert len(tables["identity.Merge"]) == len(panels["identity"]["merges"]) == 1
    events = {(e["name"], json.dumps(e["properties"], sort_keys=True)) for e in tables["people.Event"]}
    assert ("Order Completed", json.dumps({"sku": "TEA-77", "total": 31.5}, sort_keys=True)) in events
    assert ("App Opened", "{}") in events  # from the merged child's device
    changes = {(c["key"], json.dumps(c["new_value"])) for c in tables["people.AttributeChange"]}
    assert {(k, json.dumps(v)) for k, v in shown_changes} <= changes
    assert [c["channel"] for c in tables["people.PersonChannelContact"]] == ["Web"]
    computed_rows = panels["computed"]["computed_rows"]
    assert [(r["key"], r["value"]) for r in computed_rows] == [("tea_orders", 4)]
    assert export["profile"]["computed_trait"]["tea_orders"]["value"] == 4
    assert tables["computed.ComputedValue"][0]["attribute"] == "Tea orders"
    assert len(tables["people.Person"]) == 2  # the profile and its merged child


def test_export_lists_earlier_requests(cleo, admin_user, run_request):
    first = run_request("suppression", ("user_id", "cleo-3"), user=admin_user)
    export = run_request("portability", ("user_id", "cleo-3"), user=admin_user).result
    assert [(r["subject_request_id"], r["type"]) for r in export["requests"]] == [
        (str(first.subject_request_id), "suppression")
    ]
    assert export["tables"]["privacy.Suppression"][0]["person_id"] == cleo.pk


def test_export_of_an_unknown_subject_is_empty(admin_user, run_request):
    request = run_request("access", ("email", "nobody@example.org"), user=admin_user)
    assert request.status == RequestStatus.COMPLETED
    assert request.result["profile"] == {} and request.result["tables"] == {}
