"""Real client libraries against a live server, then read back through the Profile API."""

import base64
import json
from datetime import UTC, datetime

import pytest
import requests
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from identity.services import access_token_create
from people.models import Event, Person, RejectedMessage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]  # live server, real SDKs


@pytest.fixture
def token(db):
    return access_token_create(name="tests").raw


def profile(live_server, token, identifier, page, **params):
    return requests.get(
        f"{live_server.url}/v1/spaces/any/collections/users/profiles/{identifier}/{page}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_segment_client_batch_is_accepted_and_readable_through_the_profile_api(
    live_server, make_source, token
):
    # given
    write_key = make_source("Python backend").write_key
    errors = []
    client = SegmentClient(
        write_key, host=live_server.url, sync_mode=True, on_error=lambda e, b: errors.append(e)
    )
    # when
    client.identify(
        "user-123",
        {"email": "Jane@Example.com", "plan": "pro", "firstName": "Jane"},
        timestamp=datetime(2024, 5, 1, 12, tzinfo=UTC),
        message_id="msg-identify-1",
    )
    client.track(
        "user-123",
        "Order Completed",
        {"revenue": 42.5},
        message_id="msg-track-1",
        timestamp=datetime(2024, 5, 1, 12, 5, tzinfo=UTC),
    )
    client.page(anonymous_id="anon-9", category="Docs", name="Pricing", properties={"url": "/pricing"})
    client.alias("anon-9", "user-123")
    client.group("user-123", "acme-inc", {"name": "Acme", "employees": 50})
    client.track(user_id=7, event="No TS")
    client.track("user-123", "Order Completed", {"revenue": 42.5}, message_id="msg-track-1")  # a retry
    # then
    assert errors == []
    person = Person.objects.get(identities__value="user-123")
    assert person.first_name == "Jane" and person.email == "jane@example.com"
    traits = profile(live_server, token, "user_id:user-123", "traits", verbose="true").json()
    assert traits["traits"]["plan"]["value"] == "pro"
    assert traits["cursor"]["limit"] == 10
    ids = profile(live_server, token, "anonymous_id:anon-9", "external_ids").json()
    assert {(d["type"], d["id"]) for d in ids["data"]} >= {
        ("user_id", "user-123"),
        ("anonymous_id", "anon-9"),
    }
    events = profile(live_server, token, "email:jane@example.com", "events", sort="asc", limit=100).json()
    names = [e["event"] for e in events["data"]]
    assert names.count("Order Completed") == 1  # the retried messageId was ignored
    assert "Pricing" in names
    assert Person.objects.filter(identities__value="7").exists()
    assert Person.objects.get(identities__value="acme-inc").kind == "company"


def test_rudder_client_gzip_batch_with_context_traits(live_server, make_source, token):
    # given
    write_key = make_source("Rudder backend").write_key
    client = RudderClient(write_key, host=live_server.url, sync_mode=True, gzip=True)
    # when
    client.identify("user-9", {"email": "nine@example.com", "lastName": "Nine"}, anonymous_id="a-9")
    client.track("user-9", "Signed Up", {"plan": "free"})
    client.screen("user-9", name="Home", properties={"variant": "A"})
    # then
    assert RejectedMessage.objects.count() == 0
    response = profile(live_server, token, "user_id:user-9", "traits")
    assert response.status_code == 200
    assert response.json()["traits"]["last_name"] == "Nine"
    metadata = profile(live_server, token, "anonymous_id:a-9", "metadata").json()["metadata"]
    assert metadata["first_seen_at"] and metadata["last_seen_at"]
    assert Event.objects.filter(person__identities__value="user-9", type="screen", name="Home").exists()


def test_mparticle_bulk_batches_are_accepted_and_resolved(live_server, make_source, token):
    # given
    credentials = make_source("mParticle feed")
    auth = "Basic " + base64.b64encode(credentials.basic_pair.encode()).decode()
    batch = {
        "events": [
            {
                "data": {"timestamp_unixtime_ms": 1714564800000, "session_id": 1},
                "event_type": "session_start",
            },
            {
                "data": {
                    "timestamp_unixtime_ms": 1714564800000,
                    "source_message_id": "mp-1",
                    "custom_attributes": {"plan": "pro"},
                    "custom_event_type": "navigation",
                    "event_name": "Signed Up",
                },
                "event_type": "custom_event",
            },
            {
                "data": {"timestamp_unixtime_ms": 1714564800000, "screen_name": "Home"},
                "event_type": "screen_view",
            },
        ],
        "source_request_id": "req-0001",
        "environment": "development",
        "device_info": {"platform": "iOS", "ios_advertising_id": "6D92078A-8246-4BA4-AE5B-76104861E7DC"},
        "user_attributes": {"plan": "pro", "$FirstName": "Jane", "interests": ["golf", "tennis"]},
        "deleted_user_attributes": ["old_attr"],
        "user_identities": {"other": "legacy-77", "customerid": "user-123", "email": "jane@example.com"},
    }
    second = {
        "events": [
            {"data": {"event_name": "Logged In", "custom_event_type": "other"}, "event_type": "custom_event"}
        ],
        "environment": "production",
        "user_identities": {"customer_id": "user-456"},
    }
    # when
    response = requests.post(
        f"{live_server.url}/v2/bulkevents",
        data=json.dumps([batch, second]),
        headers={"Authorization": auth, "Content-Type": "application/json"},
        timeout=10,
    )
    again = requests.post(
        f"{live_server.url}/v2/events",
        data=json.dumps(batch),
        headers={"Authorization": auth, "Content-Type": "application/json"},
        timeout=10,
    )
    # then
    assert response.status_code == 202 and again.status_code == 202
    traits = profile(live_server, token, "customer_id:user-123", "traits").json()["traits"]
    assert traits["first_name"] == "Jane" and traits["interests"] == "golf, tennis"
    ids = profile(live_server, token, "other:legacy-77", "external_ids").json()["data"]
    assert {d["type"] for d in ids} >= {"user_id", "email", "other", "ios.idfa"}
    events = profile(live_server, token, "user_id:user-123", "events", limit=100).json()["data"]
    assert sorted(e["event"] for e in events if e["type"] != "identify") == [
        "Home",
        "Signed Up",
        "session_start",
    ]
    assert Person.objects.filter(identities__value="user-456").exists()
