"""Replays over HTTP after an erasure: an SDK's retry queue (/v1/batch) and mParticle bulk history
(/v2/bulkevents) are answered as usual and create nobody."""

from __future__ import annotations

import base64
import json

import pytest

from identity.models import Identity
from people.models import Person, RejectedMessage

pytestmark = pytest.mark.django_db

USER = "replay-user-1"
EMAIL = "replay.person@example.org"


def sdk_batch() -> dict:
    return {
        "batch": [
            {"type": "identify", "userId": USER, "traits": {"email": EMAIL}, "messageId": "r1"},
            {"type": "track", "userId": USER, "event": "Order Completed", "messageId": "r2"},
        ]
    }


def mparticle_batches() -> list[dict]:
    return [
        {
            "environment": "production",
            "user_identities": {"customer_id": USER, "email": EMAIL},
            "events": [
                {"event_type": "custom_event", "data": {"event_name": "Bought", "custom_event_type": "other"}}
            ],
        }
    ]


def test_sdk_and_mparticle_replays_after_erasure_create_nobody(
    client, make_source, admin_user, run_request, filters_in_ingestion
):
    # given: the person arrived through both paths, then was erased
    sdk_source = make_source("SDK")
    sdk_pair = f"{sdk_source.write_key}:".encode()
    sdk_auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(sdk_pair).decode()}
    mp = make_source("mParticle")
    mp_auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(mp.basic_pair.encode()).decode()}
    assert client.post(
        "/v1/batch", json.dumps(sdk_batch()), content_type="application/json", **sdk_auth
    ).json() == {"success": True}
    assert (
        client.post(
            "/v2/bulkevents", json.dumps(mparticle_batches()), content_type="application/json", **mp_auth
        )
    ).status_code == 202
    assert Identity.objects.filter(value=USER).exists()
    run_request("erasure", ("user_id", USER), user=admin_user)
    people = Person.objects.count()
    # when: both are replayed
    sdk = client.post("/v1/batch", json.dumps(sdk_batch()), content_type="application/json", **sdk_auth)
    bulk = client.post(
        "/v2/bulkevents", json.dumps(mparticle_batches()), content_type="application/json", **mp_auth
    )
    # then: answered as usual, nobody created, nothing quarantined with the payload
    assert (sdk.status_code, sdk.json()) == (200, {"success": True})
    assert bulk.status_code == 202
    assert Person.objects.count() == people
    assert not Identity.objects.filter(value__in=[USER, EMAIL]).exists()
    assert not RejectedMessage.objects.filter(payload__userId=USER).exists()
