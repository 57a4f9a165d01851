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


def send(client, write_key, message: dict) -> None:
    body = {"batch": [{"userId": "u1", **message}]}
    response = client.generic(
        "POST",
        "/v1/batch",
        json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key),
    )
    assert response.json() == {"success": True}


def track(client, write_key, **message):
    send(client, write_key, {"type": "track", **message})


def identify(client, write_key, message_id: str, **traits):
    send(client, write_key, {"type": "identify", "traits": traits, "messageId": message_id})


def activate_over_http(client, staff, key: str, name: str, definition: dict) -> None:
    created = client.post(
        "/api/audiences/",
        {"key": key, "name": name, "definition": definition},
        content_type="application/json",
        **staff,
    ).json()
    assert client.post(f"/api/audiences/{created['id']}/activate/", **staff).status_code == 202
    assert client.get(f"/api/audiences/{created['id']}/", **staff).json()["state"] == "active"


def audience_traits(client, profile) -> dict:
    return client.get(f"{PROFILE}/traits", {"class": "audience"}, **profile).json()["traits"]


def test_tracked_event_becomes_a_membership_trait(client, setup):
    write_key, profile, staff = setup
    # given an active audience of buyers of 50 or more
    definition = {
        "condition": {
            "event": "Order Completed",
            "filters": [{"property": "amount", "op": "gte", "value": 50}],
        }
    }
    activate_over_http(client, staff, "big_buyers", "Big buyers", definition)
    # and a known person who bought for 10
    track(client, write_key, event="Order Completed", properties={"amount": 10}, messageId="m1")
    assert audience_traits(client, profile) == {}
    # when they buy for 80
    track(client, write_key, event="Order Completed", properties={"amount": 80}, messageId="m2")
    # then the Profile API shows the membership
    assert audience_traits(client, profile) == {"big_buyers": True}
    audiences = client.get(f"{PROFILE}/audiences", **profile).json()
    assert [a["key"] for a in audiences["data"]] == ["big_buyers"]
    assert audiences["data"][0]["entered_at"] and audiences["cursor"]["has_more"] is False
    everything = client.get(f"{PROFILE}/traits", {"limit": 200}, **profile).json()["traits"]
    assert everything["big_buyers"] is True


def test_exited_members_read_false(client, setup):
    from people.models import AttributeDefinition

    write_key, profile, staff = setup
    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    definition = {"condition": {"attribute": "plan", "op": "equals", "value": "pro"}}
    activate_over_http(client, staff, "pros", "Pros", definition)
    identify(client, write_key, "i1", plan="pro")
    assert audience_traits(client, profile) == {"pros": True}
    # when they downgrade
    identify(client, write_key, "i2", plan="free")
    # then
    assert audience_traits(client, profile) == {"pros": False}
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
