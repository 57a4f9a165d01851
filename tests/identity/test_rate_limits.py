"""Rate limits per write key (tracking, mParticle), per Profile API token and per client sending
wrong credentials: 429 with Retry-After in each API's own error shape."""

import base64
import json

import pytest
from django.core.cache import caches

from identity.api.ratelimit import parse_rate
from identity.services import access_token_create
from people.models import Event

pytestmark = pytest.mark.django_db
PROFILE = "/v1/spaces/main/collections/users/profiles/user_id:u1/traits"


@pytest.fixture
def limits(settings):
    """Real counters (the test settings count nothing) and small limits."""
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl-test"},
    }
    caches["ratelimit"].clear()
    settings.ATTUNE_RATE_LIMITS = {"write_key": "3/60", "profile_token": "2/60", "failed_auth": "4/60"}
    yield settings.ATTUNE_RATE_LIMITS
    caches["ratelimit"].clear()


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def track(client, key: str, event: str = "Clicked"):
    body = {"userId": "u1", "event": event}
    return client.post(
        "/v1/track", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=basic(key)
    )


def test_tracking_write_key_over_its_limit_is_429_with_retry_after(client, make_source, limits):
    # given a write key allowed 3 requests a minute
    key = make_source("Website").write_key
    # when it sends 4
    answers = [track(client, key, f"E{i}") for i in range(4)]
    # then the first 3 are stored and the 4th is refused with the tracking error shape
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json() == {
        "code": "throttled",
        "message": f"Too many requests for this write key; retry in {answers[3]['Retry-After']} s.",
    }
    assert 1 <= int(answers[3]["Retry-After"]) <= 60
    assert sorted(Event.objects.values_list("name", flat=True)) == ["E0", "E1", "E2"]


def test_each_write_key_has_its_own_count(client, make_source, limits):
    # given two sources; when the first uses up its limit
    first, second = make_source("Website").write_key, make_source("App").write_key
    for _ in range(3):
        track(client, first)
    # then the second is still answered
    assert track(client, first).status_code == 429
    assert track(client, second).status_code == 200


def test_write_key_in_the_body_is_counted_too(client, make_source, limits):
    key = make_source("Website").write_key
    body = json.dumps({"writeKey": key, "userId": "u1", "event": "E"})
    codes = [client.post("/v1/track", body, content_type="application/json").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_mparticle_over_the_limit_is_429_with_its_error_shape(client, make_source, limits):
    # given an mParticle source allowed 3 requests a minute
    creds = make_source("mParticle")
    body = json.dumps({"environment": "production", "user_identities": {"customer_id": "c1"}, "events": []})
    # when it sends 4 batches
    answers = [
        client.post(
            "/v2/events",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(*creds.basic_pair.split(":")),
        )
        for _ in range(4)
    ]
    # then the 4th is refused in mParticle's shape with Retry-After
    assert [a.status_code for a in answers[:3]] == [202, 202, 202]
    assert answers[3].status_code == 429 and int(answers[3]["Retry-After"]) >= 1
    assert answers[3].json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"


def test_profile_token_over_its_limit_is_429_with_the_profile_error_shape(client, limits):
    # given a Profile API token allowed 2 requests a minute
    raw = access_token_create(name="t").raw
    # when it reads 3 times
    answers = [client.get(PROFILE, HTTP_AUTHORIZATION=basic(raw)) for _ in range(3)]
    # then the first two are answered (404: no such profile) and the third refused
    assert [a.status_code for a in answers] == [404, 404, 429]
    error = answers[2].json()["error"]
    assert error["code"] == "too_many_requests"
    assert (
        error["message"]
        == f"Too many requests for this access token; retry in {answers[2]['Retry-After']} s."
    )
    # and another token is not affected
    other = access_token_create(name="other").raw
    assert client.get(PROFILE, HTTP_AUTHORIZATION=basic(other)).status_code == 404


@pytest.mark.parametrize(
    "method,path,wrong_credentials,refused,body_check",
    [
        ("post", "/v1/track", lambda i: basic(f"wk_wrong{i}"), 401, lambda b: b["code"] == "throttled"),
        (
            "post",
            "/v2/events",
            lambda i: basic("src_x", f"wrong{i}"),
            403,
            lambda b: b["errors"][0]["code"] == "TOO_MANY_REQUESTS",
        ),
        (
            "get",
            PROFILE,
            lambda i: basic(f"pat_wrong{i}"),
            401,
            lambda b: b["error"]["code"] == "too_many_requests",
        ),
    ],
)
def test_a_client_sending_wrong_credentials_is_slowed_down(
    client, limits, method, path, wrong_credentials, refused, body_check
):
    # given a client allowed 4 failed authentications a minute
    answers = []
    for i in range(6):
        # when it tries a different wrong key each time
        headers = {"HTTP_AUTHORIZATION": wrong_credentials(i)}
        if method == "post":
            answers.append(client.post(path, "{}", content_type="application/json", **headers))
        else:
            answers.append(client.get(path, **headers))
    # then the first 4 get the usual refusal and later ones 429 with Retry-After
    assert [a.status_code for a in answers] == [refused] * 4 + [429, 429]
    assert body_check(answers[4].json()) and int(answers[4]["Retry-After"]) >= 1


def test_a_limit_of_zero_turns_the_scope_off(client, make_source, limits, settings):
    settings.ATTUNE_RATE_LIMITS = {**limits, "write_key": "0"}
    key = make_source("Website").write_key
    assert {track(client, key).status_code for _ in range(5)} == {200}


@pytest.mark.parametrize(
    "rate,expected",
    [
        ("600/60", (600, 60)),
        ("10/second", (10, 1)),
        ("100/minute", (100, 60)),
        ("5/hour", (5, 3600)),
        ("0", None),
        ("", None),
    ],
)
def test_rates_are_parsed(rate, expected):
    assert parse_rate(rate) == expected
