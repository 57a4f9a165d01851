"""Profile API: values the database cannot hold (NUL, out-of-range times, forged cursors) are
answered 400 ``{"error": {code, message}}``, never 500."""

import base64

import pytest

pytestmark = pytest.mark.django_db
BASE = "/v1/spaces/main/collections/users/profiles"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def person(ingest):
    ingest(
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "u1", "event": "Signed Up", "timestamp": "2024-05-01T10:00:00Z"},
    )


@pytest.mark.parametrize(
    "path,message",
    [
        ("/user_id:%00/traits", "The identifier must not contain a NUL character."),
        ("/user_id:u%001/metadata", "The identifier must not contain a NUL character."),
        ("/%00:u1/external_ids", "The identifier must not contain a NUL character."),
        ("/email:%00/traits", "The identifier must not contain a NUL character."),
        ("/user_id:u1/events?exclude=%00", "Query parameter 'exclude' contains a NUL character."),
        ("/user_id:u1/events?include=a%00b", "Query parameter 'include' contains a NUL character."),
        ("/user_id:u1/traits?include=%00", "Query parameter 'include' contains a NUL character."),
        ("/user_id:u1/external_ids?include=%00", "Query parameter 'include' contains a NUL character."),
        ("/user_id:u1/traits?next=%00", "Query parameter 'next' contains a NUL character."),
        ("/user_id:u1/traits?x%00=1", "Query parameter 'x' contains a NUL character."),
        (
            "/user_id:u1/events?start=9999-12-31T23:00:00-23:00",
            "'start' is out of the supported range (1900-01-01 to 2200-01-01 UTC).",
        ),
        (
            "/user_id:u1/events?end=0001-01-01T00:00:00%2B23:00",
            "'end' is out of the supported range (1900-01-01 to 2200-01-01 UTC).",
        ),
        ("/user_id:u1/events?start=99999-01-01T00:00:00Z", None),
        (f"/user_id:u1/events?next={b64('9999-12-31T23:00:00-23:00|1')}", "Invalid 'next' cursor."),
        (
            f"/user_id:u1/events?next={b64('2024-01-01T00:00:00Z|99999999999999999999')}",
            "Invalid 'next' cursor.",
        ),
        (f"/user_id:u1/events?next={b64('2024-01-01T00:00:00|1')}", "Invalid 'next' cursor."),
        ("/user_id:u1/external_ids?next=99999999999999999999999", "Invalid 'next' cursor."),
        ("/user_id:u1/traits?limit=99999999999999999999999", "'limit' must be between 1 and 200."),
    ],
)
def test_unusable_values_are_400_with_the_profile_error_shape(client, auth, person, path, message):
    # when a request carries a value the database cannot hold
    response = client.get(BASE + path, **auth)
    # then it is refused with the Profile API's error shape and a reason
    assert response.status_code in (400, 404), response.content
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "validation_error"
        if message:
            assert response.json()["error"]["message"] == message
    else:
        assert response.json()["error"]["code"] == "not_found"


def test_times_with_large_offsets_are_compared_in_utc(client, auth, person):
    # given an event at 2024-05-01T10:00Z; when the window is written with a +23:00 offset
    response = client.get(
        f"{BASE}/user_id:u1/events",
        {"start": "2024-05-02T08:00:00+23:00", "end": "2024-05-02T10:00:00+23:00"},  # 09:00Z..11:00Z
        **auth,
    )
    # then the event inside the window is found
    assert response.status_code == 200
    assert [e["event"] for e in response.json()["data"]] == ["Signed Up"]


def test_nul_is_refused_only_after_authentication(client, person):
    response = client.get(f"{BASE}/user_id:%00/traits")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_error"
