"""The tracking endpoints over HTTP: auth, bodies, errors, CORS and per-message quarantine."""

import base64
import gzip
import json

import pytest
from django.test import override_settings

from identity.models import SeenMessage, SeenUndefined, SourceDailyStat
from people.models import Channel, Event, EventDefinition, EventPropertyDefinition, Person, RejectedMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def creds(make_source):
    return make_source("Web")


def basic(user, password=""):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def post(client, path, body, key=None, content_type="application/json", **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if key:
        headers["HTTP_AUTHORIZATION"] = basic(key)
    return client.generic("POST", path, data, content_type=content_type, **headers)


def track(**fields):
    return {"type": "track", "userId": "u1", "event": "Clicked", **fields}


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import", "/v1/b"])
def test_batch_routes_answer_exactly_200_success(client, creds, path):
    response = post(client, path, {"batch": [track(messageId="m1")]}, key=creds.write_key)
    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert Event.objects.get().message_id == "m1"


@pytest.mark.parametrize(
    "path,kind",
    [
        ("/v1/identify", "identify"),
        ("/v1/i", "identify"),
        ("/v1/t", "track"),
        ("/v1/page", "page"),
        ("/v1/s", "screen"),
        ("/v1/g", "group"),
        ("/v1/alias", "alias"),
    ],
)
def test_single_routes_take_the_type_from_the_path(client, creds, path, kind):
    body = {
        "userId": "u1",
        "event": "Clicked",
        "groupId": "g1",
        "previousId": "anon-1",
        "writeKey": creds.write_key,
    }
    response = post(client, path, body, content_type="text/plain")
    assert response.status_code == 200, response.content
    assert Event.objects.get().type == kind


def test_write_key_in_body_and_any_content_type(client, creds):
    response = post(
        client,
        "/v1/batch",
        {"batch": [track()], "writeKey": creds.write_key},
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


def test_gzip_labelled_form_urlencoded_like_rudder_node(client, creds):
    body = gzip.compress(
        json.dumps(
            {"batch": [track(originalTimestamp="2024-05-01T12:00:00Z", sentAt="2024-05-01T12:00:01Z")]}
        ).encode()
    )
    response = post(
        client,
        "/v1/batch",
        body,
        key=creds.write_key,
        content_type="application/x-www-form-urlencoded",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.status_code == 200
    event = Event.objects.get()
    assert abs((event.received_at - event.timestamp).total_seconds() - 1) < 0.01  # skew-corrected


@pytest.mark.parametrize("key,code", [(None, "unauthorized"), ("wrong", "invalid_write_key")])
def test_missing_or_unknown_key_is_401_with_code_and_message(client, key, code, creds):
    response = post(client, "/v1/batch", {"batch": [track()]}, key=key)
    assert response.status_code == 401
    assert response.json()["code"] == code and response.json()["message"]
    assert Event.objects.count() == 0


def test_malformed_json_is_400_with_code(client, creds):
    response = post(client, "/v1/batch", b"{not json", key=creds.write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


@override_settings(INGEST_MAX_BODY_BYTES=10_000)
def test_oversize_body_is_400_and_nothing_stored(client, creds):
    body = {"batch": [track(properties={"x": "y" * 20_000})]}
    response = post(client, "/v1/batch", body, key=creds.write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert Event.objects.count() == RejectedMessage.objects.count() == 0


@override_settings(INGEST_MAX_BODY_BYTES=100_000)
def test_gzip_bomb_is_400_and_nothing_stored(client, creds):
    bomb = gzip.compress(b'{"batch": [' + b" " * 50_000_000 + b"]}")
    assert len(bomb) < 100_000
    response = post(client, "/v1/batch", bomb, key=creds.write_key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert Event.objects.count() == 0


def test_bad_messages_are_quarantined_without_failing_the_batch(client, creds):
    # given
    batch = [
        track(messageId="ok"),
        {"type": "track", "event": "No ids", "userId": None, "anonymousId": None},
        track(properties="not an object"),
        track(timestamp="yesterday"),
        {"type": "identify", "userId": "u1", "traits": {"birthday": "not a date"}},
        {"type": "launch", "userId": "u1"},
        track(properties={"blob": "x" * 40_000}),
        {"type": "track", "userId": "null", "event": "Blocked"},
    ]
    # when
    response = post(client, "/v1/batch", {"batch": batch}, key=creds.write_key)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    codes = [r["code"] for r in body["rejected"]]
    assert codes == [
        "no_user_anon_id",
        "invalid_field",
        "invalid_timestamp",
        "invalid_trait",
        "invalid_type",
        "message_too_large",
        "blocked_identifier",
    ]
    assert Event.objects.count() == 1
    assert RejectedMessage.objects.filter(source=creds.source).count() == 7
    stat = SourceDailyStat.objects.get(source=creds.source)
    assert (stat.accepted, stat.rejected) == (1, 7)


def test_duplicate_message_ids_are_ignored_and_answered_200(client, creds):
    post(client, "/v1/batch", {"batch": [track(messageId="dup")]}, key=creds.write_key)
    response = post(
        client, "/v1/batch", {"batch": [track(messageId="dup"), track(messageId="dup")]}, key=creds.write_key
    )
    assert response.status_code == 200 and response.json() == {"success": True}
    assert Event.objects.count() == 1
    assert SeenMessage.objects.filter(message_id="dup").count() == 1


def test_numeric_ids_become_strings_and_message_ids_are_generated(client, creds):
    post(client, "/v1/track", {"userId": 42, "event": "Clicked"}, key=creds.write_key)
    event = Event.objects.get()
    assert event.message_id
    assert Person.objects.get(identities__value="42") == event.person


def test_cors_preflight_and_reflected_origin(client):
    response = client.options(
        "/v1/t",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "X-Retry-Count" in response["Access-Control-Allow-Headers"]
    assert "Authorization" in response["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    "method,path,status,body,allow",
    [
        (
            "get",
            "/v1/track",
            405,
            {"code": "method_not_allowed", "message": 'Method "GET" not allowed.'},
            "POST, OPTIONS",
        ),
        (
            "put",
            "/v1/batch",
            405,
            {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'},
            "POST, OPTIONS",
        ),
        ("post", "/v1/m", 200, {"success": True}, "POST, OPTIONS"),
        (
            "post",
            "/v1/projects/wk/settings",
            405,
            {"code": "method_not_allowed", "message": 'Method "POST" not allowed.'},
            "GET, HEAD, OPTIONS",
        ),
    ],
)
def test_methods_are_answered_with_allow_and_cors(client, creds, method, path, status, body, allow):
    # when a browser calls a tracking URL with a method it may or may not take
    response = client.generic(
        method.upper(),
        path,
        json.dumps(track()).encode(),
        content_type="text/plain",
        HTTP_AUTHORIZATION=basic(creds.write_key),
        HTTP_ORIGIN="https://shop.example.com",
    )
    # then the answer names the allowed methods and the origin may read it
    assert (response.status_code, response.json(), response["Allow"]) == (status, body, allow)
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"


def test_project_settings_point_the_browser_sdk_at_this_host(client):
    response = client.get("/v1/projects/wk_1/settings", HTTP_HOST="cdp.example.com")
    assert response.json() == {
        "integrations": {
            "Segment.io": {"apiKey": "wk_1", "apiHost": "cdp.example.com/v1", "protocol": "https"}
        },
        "metrics": {"sampleRate": 0},
    }


@pytest.mark.parametrize(
    "accept,status,content",
    [
        ("*/*", 200, b'{"success":true}'),
        ("application/json; indent=2", 200, b'{\n  "success": true\n}'),
        ("text/html", 200, b'{"success":true}'),
        ("application/xml", 200, b'{"success":true}'),
    ],
)
def test_accept_header_never_costs_the_message(client, creds, accept, status, content):
    response = post(
        client, "/v1/track", track(event=f"Seen {accept}"), key=creds.write_key, HTTP_ACCEPT=accept
    )
    # then the answer is JSON whatever the client asked for, and the event is stored
    assert (response.status_code, response.content, response["Content-Type"]) == (
        status,
        content,
        "application/json",
    )
    assert Event.objects.filter(name=f"Seen {accept}").count() == 1


def test_strict_channel_rejects_undefined_events_and_properties(client, make_source):
    # given
    channel = Channel.objects.create(key="app", name="App", schema_enforcement="strict")
    creds = make_source("App", channel=channel)
    definition = EventDefinition.objects.create(name="Order Completed")
    EventPropertyDefinition.objects.create(definition=definition, key="amount", type="decimal", required=True)
    EventPropertyDefinition.objects.create(definition=definition, key="code", type="text", regex=r"^[A-Z]+$")
    batch = [
        track(event="Order Completed", properties={"amount": "12.5"}),
        track(event="Unknown"),
        track(event="Order Completed", properties={"amount": 1, "extra": True}),
        track(event="Order Completed", properties={}),
        track(event="Order Completed", properties={"amount": "lots"}),
        track(event="Order Completed", properties={"amount": 1, "code": "abc"}),
        {"type": "identify", "userId": "u1", "traits": {"shoe_size": 42}},
    ]
    # when
    body = post(client, "/v1/batch", {"batch": batch}, key=creds.write_key).json()
    # then
    assert [r["code"] for r in body["rejected"]] == [
        "undefined_event",
        "undeclared_property",
        "missing_property",
        "invalid_property",
        "invalid_property",
        "unknown_trait",
    ]
    assert Event.objects.get().properties == {"amount": 12.5}


def test_permissive_channel_lists_seen_but_undefined_and_defines_traits(client, creds):
    batch = [
        track(event="New Thing", properties={"a": 1}),
        {"type": "identify", "userId": "u1", "traits": {"shoeSize": 42, "vip": True, "joined": "2024-01-02"}},
    ]
    post(client, "/v1/batch", {"batch": batch}, key=creds.write_key)
    assert SeenUndefined.objects.filter(kind="event", event_name="New Thing").exists()
    person = Person.objects.get(identities__value="u1")
    assert person.custom == {"shoe_size": 42, "vip": True, "joined": "2024-01-02"}
