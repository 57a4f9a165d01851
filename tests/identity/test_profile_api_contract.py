"""The Profile API's contract as plain Django views: exact bodies, error shapes, headers, the
OpenAPI declaration, and how many queries a request costs."""

import base64
import json

import pytest
from django.db import connection
from django.urls import resolve

from computed import services as computed_services
from identity.api.auth import forget_cached_tokens
from identity.services import access_token_create, ingest_batch

pytestmark = pytest.mark.django_db
BASE = "/v1/spaces/main/collections/users/profiles"


@pytest.fixture
def token(db):
    forget_cached_tokens()
    return access_token_create(name="contract").raw


@pytest.fixture
def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def profile(source):
    ingest_batch(
        source=source,
        messages=[
            {"type": "identify", "userId": "u1", "traits": {"firstName": "Ada", "email": "ada@example.com"}},
            {"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m1"},
        ],
    )


def _active(key: str, event: str) -> None:
    definition = {"function": "count", "event": event, "period": {"type": "lifetime"}}
    attribute = computed_services.computed_attribute_create(
        key=key, name=key, kind="aggregate", definition=definition
    )
    computed_services.activate(attribute)


def test_traits_body_is_the_exact_json_with_computed_values_and_empty_ones(client, auth, profile):
    # given two active counts: one of an event the profile sent, one of an event it never sent
    _active("signups", "Signed Up")
    _active("orders", "Order Completed")
    # when the traits are read
    response = client.get(f"{BASE}/user_id:u1/traits", {"limit": 10}, **auth)
    # then the body is compact JSON with standard, custom and computed traits, sorted by key
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Request-Id"]
    assert response.content.decode() == (
        '{"traits":{"email":"ada@example.com","first_name":"Ada","orders":0,"signups":1},'
        '"cursor":{"url":"/v1/spaces/main/collections/users/profiles/user_id:u1/traits?limit=10",'
        '"has_more":false,"next":null,"limit":10}}'
    )


def test_verbose_computed_trait_carries_its_computed_time(client, auth, profile):
    _active("signups", "Signed Up")
    body = client.get(f"{BASE}/user_id:u1/traits", {"class": "computed_trait", "verbose": "1"}, **auth).json()
    trait = body["traits"]["signups"]
    assert trait["value"] == 1 and trait["source"] == "computed_trait" and trait["source_id"] is None
    assert trait["updated_at"].startswith("20")  # an ISO time, written as DRF wrote it


def test_non_ascii_values_are_written_as_utf8(client, auth, source):
    ingest_batch(source=source, messages=[{"type": "identify", "userId": "u2", "traits": {"city": "Zürich"}}])
    response = client.get(f"{BASE}/user_id:u2/traits", **auth)
    assert '"city":"Zürich"' in response.content.decode("utf-8")


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code", "message"),
    [
        ("get", "user_id:u1/traits", {}, 401, "authentication_error", "An access token is required"),
        (
            "get",
            "user_id:u1/traits",
            {"HTTP_AUTHORIZATION": "Bearer nope"},
            401,
            "authentication_error",
            "Invalid access token.",
        ),
        (
            "get",
            "user_id:u1/traits",
            {"HTTP_AUTHORIZATION": "Basic %%%"},
            401,
            "authentication_error",
            "An access token is required",
        ),
        ("get", "u1/traits", None, 400, "validation_error", "The identifier must be '<id_type>:<value>'."),
        ("get", "user_id:nobody/traits", None, 404, "not_found", "Profile was not found."),
        ("get", "nosuchtype:x/metadata", None, 404, "not_found", "Profile was not found."),
        (
            "get",
            "user_id:u1/traits?limit=0",
            None,
            400,
            "validation_error",
            "'limit' must be between 1 and 200.",
        ),
        (
            "get",
            "user_id:u1/traits?limit=x",
            None,
            400,
            "validation_error",
            "'limit' must be a whole number.",
        ),
        ("get", "user_id:u1/traits?class=x", None, 400, "invalid_request", "unknown trait class: x"),
        ("get", "user_id:u1/external_ids?next=abc", None, 400, "validation_error", "Invalid 'next' cursor."),
        ("get", "user_id:u1/events?sort=up", None, 400, "validation_error", "'sort' must be asc or desc."),
        ("get", "user_id:u1/events?next=zz", None, 400, "validation_error", "Invalid 'next' cursor."),
        ("get", "user_id:u1/events?start=yesterday", None, 400, "validation_error", "start"),
        (
            "get",
            "user_id:u1/events?include=a%00b",
            None,
            400,
            "validation_error",
            "Query parameter 'include' contains a NUL character.",
        ),
        ("post", "user_id:u1/traits", None, 405, "invalid_request_error", 'Method "POST" not allowed.'),
        ("delete", "user_id:u1/metadata", None, 405, "invalid_request_error", 'Method "DELETE" not allowed.'),
    ],
)
def test_bad_requests_answer_the_error_shape(
    client, auth, profile, method, path, headers, status, code, message
):
    # given a request that is missing its token, names no profile, or has a bad parameter or method
    response = getattr(client, method)(f"{BASE}/{path}", **(auth if headers is None else headers))
    # then it is answered with the status and {"error": {code, message}}, never a 500
    assert response.status_code == status
    body = json.loads(response.content)
    assert body["error"]["code"] == code and message in body["error"]["message"]
    assert response["Request-Id"]
    if status == 401:
        assert response["WWW-Authenticate"] == 'Basic realm="profiles"'
    if status == 405:
        assert response["Allow"] == "GET, HEAD"


def test_write_key_is_not_a_profile_token(client, make_source, profile):
    write_key = make_source("App").write_key
    basic = base64.b64encode(f"{write_key}:".encode()).decode()
    response = client.get(f"{BASE}/user_id:u1/traits", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 401 and response.json()["error"]["message"] == "Invalid access token."


@pytest.mark.parametrize(
    ("path", "queries"),
    [
        # one statement: the identifier joined with its live profile, the active computed
        # attributes with this profile's values and the active audiences it is in or exited (the
        # token and identifier types come from per-process caches)
        ("traits", 1),
        ("traits?class=trait", 1),
        ("external_ids", 2),
        ("events", 2),
        ("metadata", 4),  # the profile, its first and last event, its merged children
    ],
)
def test_a_request_costs_a_fixed_number_of_queries(
    client, auth, profile, django_assert_num_queries, path, queries
):
    # given an active computed attribute and a warm token cache
    _active("signups", "Signed Up")
    assert client.get(f"{BASE}/user_id:u1/{path}", **auth).status_code == 200
    # when the same request is made again, then it costs the same few queries, whatever the attributes
    if path == "traits" and connection.vendor != "postgresql":
        queries = 3  # elsewhere: the profile, then each trait source (computed, audiences) on its own
    with django_assert_num_queries(queries):
        response = client.get(f"{BASE}/user_id:u1/{path}", **auth)
    assert response.status_code == 200


def test_routes_are_plain_django_views_declared_in_the_openapi_schema(client, admin_user):
    # given the Profile API routes
    match = resolve(f"{BASE}/user_id:u1/traits")
    # then they are not dispatched through DRF (no DRF request wrapping per request) ...
    assert not hasattr(match.func, "view_class")
    # ... and the published schema still declares each operation with its errors and security scheme
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/v1/spaces/{space}/collections/users/profiles/{identifier}/traits"]["get"]
    assert operation["operationId"] == "profile_traits"
    assert set(operation["responses"]) == {"200", "400", "401", "404", "429"}
    assert operation["security"] == [{"profileToken": []}]
    for name in ("external_ids", "events", "metadata"):
        assert f"/v1/spaces/{{space}}/collections/users/profiles/{{identifier}}/{name}" in schema["paths"]


def test_a_tracked_event_reaches_the_computed_trait_over_http_only(
    client, auth, make_source, django_capture_on_commit_callbacks
):
    # given an active computed attribute counting "Order Completed", and a source's write key
    _active("orders", "Order Completed")
    write_key = make_source("Shop").write_key
    basic = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    path = f"{BASE}/user_id:buyer-1/traits"
    # when two orders are tracked over HTTP (the computed refresh runs after the commit, in sync mode)
    for n in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            sent = client.post(
                "/v1/track",
                json.dumps({"userId": "buyer-1", "event": "Order Completed", "messageId": f"o{n}"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=basic,
            )
        assert sent.status_code == 200
        # then the Profile API serves the updated count after each one
        traits = client.get(path, {"class": "computed_trait"}, **auth).json()["traits"]
        assert traits == {"orders": n}
