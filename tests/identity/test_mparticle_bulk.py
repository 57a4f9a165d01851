"""mParticle: a bad event is rejected alone, each bulk batch succeeds or fails alone, retries never
duplicate (source_request_id, else a content hash)."""

import base64
import json

import pytest

from identity.models import SourceDailyStat
from people.models import Event, RejectedMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def mp_auth(make_source):
    creds = make_source("mParticle")
    return "Basic " + base64.b64encode(creds.basic_pair.encode()).decode()


def mp_post(client, path, body, authorization):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic(
        "POST", path, data, content_type="application/json", HTTP_AUTHORIZATION=authorization
    )


def good_event(name="Good", message_id="good"):
    return {
        "event_type": "custom_event",
        "data": {"event_name": name, "custom_event_type": "other", "source_message_id": message_id},
    }


def batch(*events, customer="c1", **fields) -> dict:
    return {
        "environment": "production",
        "user_identities": {"customer_id": customer},
        "events": list(events),
        **fields,
    }


def deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


# (case, the bad event as JSON text, the rejection code)
EVENT_CASES = [
    ("data as a string", '{"event_type": "custom_event", "data": "oops"}', "invalid_field"),
    (
        "timestamp_unixtime_ms 1e20",
        '{"event_type": "custom_event", "data": {"event_name": "T", "timestamp_unixtime_ms": 1e20}}',
        "invalid_timestamp",
    ),
    (
        "timestamp_unixtime_ms in year 2500",
        '{"event_type": "custom_event", "data": {"event_name": "T", '
        '"timestamp_unixtime_ms": 16725225600000}}',
        "invalid_timestamp",
    ),
    (
        "NUL in event_name",
        '{"event_type": "custom_event", "data": {"event_name": "a\\u0000b"}}',
        "invalid_text",
    ),
    (
        "10,000-deep custom_attributes",
        '{"event_type": "custom_event", "data": {"event_name": "D", "custom_attributes": '
        + deep(10_000)
        + "}}",
        "too_deep",
    ),
    (
        "custom_attributes as a list",
        '{"event_type": "custom_event", "data": {"event_name": "L", "custom_attributes": [1]}}',
        "invalid_field",
    ),
    ("NaN in an attribute", '{"event_type": "other", "data": {"x": NaN}}', "invalid_number"),
]


@pytest.mark.parametrize("case,event,code", EVENT_CASES, ids=[c[0] for c in EVENT_CASES])
def test_a_bad_event_is_rejected_alone_and_its_batch_stored(client, mp_auth, case, event, code):
    # given
    body = json.dumps(batch(good_event())).encode()
    body = body.replace(b'"events": [', b'"events": [' + event.encode() + b", ")
    # when
    response = mp_post(client, "/v2/events", body, mp_auth)
    # then
    assert response.status_code == 202
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [(0, code)]
    assert list(Event.objects.values_list("message_id", flat=True)) == ["good"]
    assert RejectedMessage.objects.get().reason_code == code


def test_bulk_half_bad_stores_the_good_batches_says_which_failed_and_retries_never_duplicate(client, mp_auth):
    # given: a good batch without source_request_id, a batch without environment, a good one with an id
    body = [
        batch(good_event("First", "m1")),
        {"user_identities": {"customer_id": "c2"}, "events": [good_event("Never", "m2")]},
        batch(good_event("Third", "m3"), customer="c3", source_request_id="req-3"),
    ]
    # when: sent, then retried three times (as an SDK does)
    responses = [mp_post(client, "/v2/bulkevents", body, mp_auth) for _ in range(4)]
    # then
    for response in responses:
        assert response.status_code == 202
        outcomes = response.json()["batches"]
        assert [(o["index"], o["status"]) for o in outcomes] == [
            (0, "accepted"),
            (1, "rejected"),
            (2, "accepted"),
        ]
        assert outcomes[1]["code"] == "BAD_REQUEST" and "environment" in outcomes[1]["message"]
    assert sorted(Event.objects.values_list("name", flat=True)) == ["First", "Third"]
    stat = SourceDailyStat.objects.get()
    assert stat.accepted == 2 and stat.duplicates == 6


def test_bulk_retries_without_ids_never_duplicate_events_without_message_ids(client, mp_auth):
    # given: events without source_message_id (only the batch content identifies a retry)
    body = [batch({"event_type": "custom_event", "data": {"event_name": "Ping"}})]
    # when
    for _ in range(3):
        assert mp_post(client, "/v2/bulkevents", body, mp_auth).status_code == 202
    # then
    assert Event.objects.filter(name="Ping").count() == 1
    # and a different batch is not a duplicate
    mp_post(
        client,
        "/v2/bulkevents",
        [batch({"event_type": "custom_event", "data": {"event_name": "Pong"}})],
        mp_auth,
    )
    assert Event.objects.filter(name="Pong").count() == 1


@pytest.mark.parametrize(
    "body,code",
    [
        ([{"environment": {"nested": True}}, "not a batch"], "BAD_REQUEST"),
        ([batch(source_request_id="r\u0000")], "BAD_REQUEST"),
        ([batch(source_request_id="r" * 101)], "BAD_REQUEST"),
    ],
    ids=[
        "environment not a string, batch not an object",
        "NUL in source_request_id",
        "long source_request_id",
    ],
)
def test_bulk_with_every_batch_bad_is_a_400_naming_each(client, mp_auth, body, code):
    # when
    response = mp_post(client, "/v2/bulkevents", body, mp_auth)
    # then
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == len(body) and all(e["code"] == code for e in errors)
    assert errors[0]["message"].startswith("batch 0: ")
    assert not Event.objects.exists() and not RejectedMessage.objects.exists()


def test_a_retried_batch_does_not_quarantine_its_bad_events_twice(client, mp_auth):
    # given
    body = json.dumps([batch(good_event())]).encode()
    body = body.replace(b'"events": [', b'"events": [{"event_type": "custom_event", "data": "oops"}, ')
    # when
    first = mp_post(client, "/v2/bulkevents", body, mp_auth)
    again = mp_post(client, "/v2/bulkevents", body, mp_auth)
    # then
    assert first.status_code == again.status_code == 202
    assert first.json()["batches"][0]["rejected"][0]["code"] == "invalid_field"
    assert RejectedMessage.objects.count() == 1 and Event.objects.count() == 1
