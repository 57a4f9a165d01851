"""From an HTTP tracking request to the membership trait in the Profile API, without calling internals:
the audience is created and activated over the Management API, events arrive over /v1/batch, and
the Profile API answers /traits?class=audience and /audiences."""

import base64
import json

import pytest

from identity.policy import ensure_default_types
from identity.services import access_token_create
from identity.staff_tokens import management_token_create

pytestmark = pytest.mark.django_db(transaction=True)
PROFILE = "/v1/spaces/main/collections/users/profiles/user_id:u1"


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


@pytest.fixture
def setup(make_source, admin_user):
    ensure_default_types()
    write_key = make_source("Web").write_key
    profile = {"HTTP_AUTHORIZATION": basic(access_token_create(name="server").raw)}
    staff = {"HTTP_AUTHORIZATION": f"Token {management_token_create(user=admin_user).raw}"}
    return write_key, profile, staff


def track(client, write_key, **message):
    body = {"batch": [{"type": "track", "userId": "u1", **message}]}
    response = client.generic(
        "POST",
        "/v1/batch",
        json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key),
    )
    assert response.json() == {"success": True}


def test_tracked_event_becomes_a_membership_trait(client, setup):
    write_key, profile, staff = setup
    # given an active audience of buyers of 50 or more
    definition = {
        "condition": {
            "event": "Order Completed",
            "filters": [{"property": "amount", "op": "gte", "value": 50}],
        }
    }
    created = client.post(
        "/api/audiences/",
        {"key": "big_buyers", "name": "Big buyers", "definition": definition},
        content_type="application/json",
        **staff,
    ).json()
    assert client.post(f"/api/audiences/{created['id']}/activate/", **staff).status_code == 202
    assert client.get(f"/api/audiences/{created['id']}/", **staff).json()["state"] == "active"
    # and a known person who bought for 10
    track(client, write_key, event="Order Completed", properties={"amount": 10}, messageId="m1")
    traits = client.get(f"{PROFILE}/traits", {"class": "audience"}, **profile).json()
    assert traits["traits"] == {}
    # when they buy for 80
    track(client, write_key, event="Order Completed", properties={"amount": 80}, messageId="m2")
    # then the Profile API shows the membership
    traits = client.get(f"{PROFILE}/traits", {"class": "audience"}, **profile).json()
    assert traits["traits"] == {"big_buyers": True}
    audiences = client.get(f"{PROFILE}/audiences", **profile).json()
    assert [a["key"] for a in audiences["data"]] == ["big_buyers"]
    assert audiences["data"][0]["entered_at"] and audiences["cursor"]["has_more"] is False
    everything = client.get(f"{PROFILE}/traits", {"limit": 200}, **profile).json()["traits"]
    assert everything["big_buyers"] is True


def test_exited_members_read_false(client, setup):
    write_key, profile, staff = setup
    definition = {"condition": {"attribute": "plan", "op": "equals", "value": "pro"}}
    from people.models import AttributeDefinition

    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    created = client.post(
        "/api/audiences/",
        {"key": "pros", "name": "Pros", "definition": definition},
        content_type="application/json",
        **staff,
    ).json()
    client.post(f"/api/audiences/{created['id']}/activate/", **staff)
    identify = {"batch": [{"type": "identify", "userId": "u1", "traits": {"plan": "pro"}, "messageId": "i1"}]}
    client.generic(
        "POST",
        "/v1/batch",
        json.dumps(identify).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key),
    )
    assert client.get(f"{PROFILE}/traits", {"class": "audience"}, **profile).json()["traits"] == {
        "pros": True
    }
    downgrade = {
        "batch": [{"type": "identify", "userId": "u1", "traits": {"plan": "free"}, "messageId": "i2"}]
    }
    client.generic(
        "POST",
        "/v1/batch",
        json.dumps(downgrade).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key),
    )
    assert client.get(f"{PROFILE}/traits", {"class": "audience"}, **profile).json()["traits"] == {
        "pros": False
    }
    assert client.get(f"{PROFILE}/audiences", **profile).json()["data"] == []


@pytest.mark.parametrize(
    "path,params,status,code",
    [
        ("/v1/spaces/main/collections/users/profiles/user_id:nobody/audiences", {}, 404, "not_found"),
        ("/v1/spaces/main/collections/users/profiles/nocolon/audiences", {}, 400, "validation_error"),
        (f"{PROFILE}/audiences", {"limit": "0"}, 400, "validation_error"),
        (f"{PROFILE}/audiences", {"limit": "x"}, 400, "validation_error"),
    ],
)
def test_profile_audiences_bad_requests(client, setup, path, params, status, code):
    write_key, profile, _ = setup
    track(client, write_key, event="Seen", messageId="s1")
    response = client.get(path, params, **profile)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_profile_audiences_needs_a_token(client, setup):
    response = client.get(f"{PROFILE}/audiences")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_error"
