"""Profile API shapes and pagination; mParticle status codes and error shapes."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from identity.services import ingest_batch, people_merge_manual
from people.models import Person

pytestmark = pytest.mark.django_db
BASE = "/v1/spaces/main/collections/users/profiles"


@pytest.fixture
def person(source):
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    ingest_batch(
        source=source,
        messages=[
            {
                "type": "identify",
                "userId": "u1",
                "traits": {"firstName": "Ada", "city": "Berlin", "plan": "pro"},
            },
            *[
                {
                    "type": "track",
                    "userId": "u1",
                    "event": f"E{i}",
                    "timestamp": (t0 + timedelta(hours=i)).isoformat(),
                    "messageId": f"m{i}",
                }
                for i in range(5)
            ],
        ],
    )
    return Person.objects.get(identities__value="u1")


def test_traits_include_limit_and_cursor(client, auth, person):
    first = client.get(f"{BASE}/user_id:u1/traits", {"limit": 2}, **auth).json()
    assert list(first["traits"]) == ["city", "first_name"]
    assert first["cursor"]["has_more"] is True and first["cursor"]["limit"] == 2
    second = client.get(
        f"{BASE}/user_id:u1/traits", {"limit": 2, "next": first["cursor"]["next"]}, **auth
    ).json()
    assert list(second["traits"]) == ["plan"] and second["cursor"]["has_more"] is False
    only = client.get(f"{BASE}/user_id:u1/traits", {"include": "plan", "verbose": "true"}, **auth).json()
    assert only["traits"]["plan"]["value"] == "pro" and only["traits"]["plan"]["updated_at"]


def test_events_are_paged_by_cursor_with_the_corrected_time(client, auth, person):
    page = client.get(f"{BASE}/user_id:u1/events", {"limit": 2, "include": "E0,E1,E2,E3,E4"}, **auth).json()
    assert [e["event"] for e in page["data"]] == ["E4", "E3"]
    assert set(page["data"][0]) >= {"type", "event", "properties", "context", "timestamp", "message_id"}
    rest = client.get(
        f"{BASE}/user_id:u1/events",
        {"limit": 10, "include": "E0,E1,E2,E3,E4", "next": page["cursor"]["next"]},
        **auth,
    ).json()
    assert [e["event"] for e in rest["data"]] == ["E2", "E1", "E0"]
    window = client.get(
        f"{BASE}/user_id:u1/events",
        {"start": "2024-05-01T01:00:00Z", "end": "2024-05-01T03:00:00Z", "sort": "asc"},
        **auth,
    ).json()
    assert [e["event"] for e in window["data"]] == ["E1", "E2"]


def test_merged_child_identifiers_resolve_the_parent_and_metadata_lists_merged_ids(
    client, auth, person, source
):
    ingest_batch(source=source, messages=[{"type": "track", "anonymousId": "a7", "event": "Seen"}])
    child = Person.objects.get(identities__value="a7")
    people_merge_manual(people=[person, child])
    metadata = client.get(f"{BASE}/anonymous_id:a7/metadata", **auth).json()["metadata"]
    assert metadata["id"] == str(person.uid) and metadata["merged_ids"] == [str(child.uid)]
    ids = client.get(f"{BASE}/user_id:u1/external_ids", {"limit": 1}, **auth).json()
    assert ids["cursor"]["has_more"] is True and ids["data"][0]["collection"] == "users"


@pytest.mark.parametrize(
    "params,code",
    [
        ({"limit": "x"}, "validation_error"),
        ({"sort": "up"}, "validation_error"),
        ({"start": "soon"}, "validation_error"),
    ],
)
def test_bad_query_parameters_are_400_with_the_error_shape(client, auth, person, params, code):
    response = client.get(f"{BASE}/user_id:u1/events", params, **auth)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert response["Request-Id"]


def test_profile_api_without_token_is_401(client):
    response = client.get(f"{BASE}/user_id:u1/traits")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_error"


@pytest.fixture
def mp_auth(make_source):
    creds = make_source("mParticle")
    return "Basic " + base64.b64encode(creds.basic_pair.encode()).decode()


def mp_post(client, path, body, authorization=None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def test_mparticle_auth_missing_is_401_and_wrong_is_403(client, mp_auth):
    body = {"environment": "production", "user_identities": {"customer_id": "c1"}, "events": []}
    assert mp_post(client, "/v2/events", body).status_code == 401
    wrong = "Basic " + base64.b64encode(b"src_x:nope").decode()
    response = mp_post(client, "/v2/events", body, wrong)
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "FORBIDDEN"


def test_mparticle_options_and_other_methods(client, mp_auth):
    # an authenticated OPTIONS describes the endpoint; GET is not allowed
    options = client.options("/v2/events", HTTP_AUTHORIZATION=mp_auth)
    get = client.get("/v2/bulkevents", HTTP_AUTHORIZATION=mp_auth)
    assert (options.status_code, options["Allow"]) == (200, "POST, OPTIONS")
    assert options.json() == {
        "name": "M Particle",
        "description": "",
        "renders": ["application/json"],
        "parses": ["*/*"],
    }
    assert (get.status_code, get.json()) == (405, {"detail": 'Method "GET" not allowed.'})
    # without credentials, OPTIONS is refused like any request
    assert client.options("/v2/events").status_code == 401


@pytest.mark.parametrize(
    "body,path",
    [
        ({"user_identities": {"customer_id": "c1"}}, "/v2/events"),
        ({"environment": "production", "events": [{"data": {}}]}, "/v2/events"),
        ([{"environment": "production"}] * 101, "/v2/bulkevents"),
    ],
)
def test_mparticle_bad_batches_are_400_with_errors(client, mp_auth, body, path):
    response = mp_post(client, path, body, mp_auth)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
    assert not Person.objects.exists()


def test_mparticle_source_request_id_dedupes_and_deleted_attributes_unset(client, mp_auth):
    body = {
        "environment": "production",
        "source_request_id": "r1",
        "user_identities": {"customer_id": "c1"},
        "user_attributes": {"tier": "gold", "$City": "Oslo"},
        "events": [
            {"event_type": "custom_event", "data": {"event_name": "Bought", "custom_event_type": "other"}}
        ],
    }
    assert mp_post(client, "/v2/events", body, mp_auth).status_code == 202
    assert mp_post(client, "/v2/events", body, mp_auth).status_code == 202
    person = Person.objects.get(identities__value="c1")
    assert person.event_count == 2 and person.city == "Oslo" and person.custom["tier"] == "gold"
    mp_post(
        client,
        "/v2/events",
        {
            "environment": "production",
            "user_identities": {"customer_id": "c1"},
            "deleted_user_attributes": ["tier"],
        },
        mp_auth,
    )
    person.refresh_from_db()
    assert "tier" not in person.custom


def test_traits_serve_active_computed_attributes_and_class_narrows(client, auth, person):
    # given an active computed attribute counting the profile's E* events, and a draft one
    from computed import services as computed_services

    count = {"function": "count", "event": "E1", "period": {"type": "lifetime"}}
    orders = computed_services.computed_attribute_create(
        key="e1_count", name="E1 count", kind="aggregate", definition=count
    )
    computed_services.activate(orders)
    computed_services.computed_attribute_create(
        key="draft_count", name="Draft", kind="aggregate", definition=count
    )
    # when the Profile API is asked for all traits, then for computed traits only
    everything = client.get(f"{BASE}/user_id:u1/traits", {"limit": 50}, **auth).json()["traits"]
    computed = client.get(
        f"{BASE}/user_id:u1/traits", {"class": "computed_trait", "verbose": "true"}, **auth
    ).json()["traits"]
    plain = client.get(f"{BASE}/user_id:u1/traits", {"class": "trait", "limit": 50}, **auth).json()
    bad = client.get(f"{BASE}/user_id:u1/traits", {"class": "nope"}, **auth)
    # then the active value is served beside the attributes; drafts never are
    assert everything["e1_count"] == 1 and everything["first_name"] == "Ada"
    assert "draft_count" not in everything
    assert list(computed) == ["e1_count"]
    assert computed["e1_count"]["value"] == 1 and computed["e1_count"]["source"] == "computed_trait"
    assert "e1_count" not in plain["traits"] and plain["traits"]["city"] == "Berlin"
    assert bad.status_code == 400 and "nope" in bad.json()["error"]["message"]
