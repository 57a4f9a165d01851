"""Values PostgreSQL or Python cannot hold: each bad message is rejected alone with its code, its
neighbours are stored, the request never answers 500 (inline and queued mode, through the drain)."""

import base64
import gzip
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from identity import queue
from identity.models import InboundBatch, SourceDailyStat
from people.models import Event, RejectedMessage

pytestmark = pytest.mark.django_db

GOOD = '{"type": "track", "userId": "good-user", "event": "Good", "messageId": "good"}'


def bad(extra: str, kind: str = "track") -> str:
    """A message whose later keys (JSON: the last of duplicate keys wins) carry the bad value."""
    return f'{{"type": "{kind}", "userId": "u1", "event": "E", "messageId": "bad", {extra}}}'


def deep_object(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def deep_array(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


# (case, the bad message as JSON text, the rejection code) — every case of issue 9, defect 1.
CASES = [
    ("nul in event name", bad('"event": "a\\u0000b"'), "invalid_text"),
    ("nul in userId", bad('"userId": "r\\u0000"'), "invalid_text"),
    ("nul in messageId", bad('"messageId": "b\\u0000"'), "invalid_text"),
    ("nul in property key", bad('"properties": {"k\\u0000": 1}'), "invalid_text"),
    ("nul in property value", bad('"properties": {"k": "v\\u0000"}'), "invalid_text"),
    ("nul in trait", bad('"traits": {"name": "a\\u0000"}', "identify"), "invalid_text"),
    ("lone surrogate in event name", bad('"event": "\\ud800"'), "invalid_text"),
    ("lone surrogate in userId", bad('"userId": "x\\udfff"'), "invalid_text"),
    ("lone surrogate in trait", bad('"traits": {"plan": "\\ud800"}', "identify"), "invalid_text"),
    ("lone surrogate in messageId", bad('"messageId": "\\ud800"'), "invalid_text"),
    ("NaN property", bad('"properties": {"n": NaN}'), "invalid_number"),
    ("Infinity property", bad('"properties": {"n": Infinity}'), "invalid_number"),
    ("-Infinity property", bad('"properties": {"n": -Infinity}'), "invalid_number"),
    ("1e400 property", bad('"properties": {"n": 1e400}'), "invalid_number"),
    ("NaN trait", bad('"traits": {"score": NaN}', "identify"), "invalid_number"),
    ("Infinity trait", bad('"traits": {"score": Infinity}', "identify"), "invalid_number"),
    ("1e400 trait", bad('"traits": {"score": 1e400}', "identify"), "invalid_number"),
    ("NaN userId", bad('"userId": NaN'), "invalid_number"),
    ("Infinity userId", bad('"userId": Infinity'), "invalid_number"),
    ("1e400 userId", bad('"userId": 1e400'), "invalid_number"),
    ("timestamp 9999 at -23:00", bad('"timestamp": "9999-12-31T23:00:00-23:00"'), "invalid_timestamp"),
    ("timestamp 0001 at +23:00", bad('"timestamp": "0001-01-01T00:00:00+23:00"'), "invalid_timestamp"),
    (
        "timestamp 0001 with sentAt 9999",
        bad('"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"'),
        "invalid_timestamp",
    ),
    (
        "skew correction out of range",
        bad('"timestamp": "1900-01-02T00:00:00Z", "sentAt": "2199-12-30T00:00:00Z"'),
        "invalid_timestamp",
    ),
    ("originalTimestamp 9999", bad('"originalTimestamp": "9999-12-31T23:59:59Z"'), "invalid_timestamp"),
    (
        "date-time trait past year 9999",
        bad('"traits": {"renewal": "9999-12-31T23:00:00-23:00"}', "identify"),
        "invalid_trait",
    ),
    ("10,000-deep properties", bad(f'"properties": {deep_object(10_000)}'), "too_deep"),
    ("10,000-deep array property", bad(f'"properties": {{"a": {deep_array(10_000)}}}'), "too_deep"),
    ("10,000-deep traits", bad(f'"traits": {deep_object(10_000)}', "identify"), "too_deep"),
    ("10,000-deep top-level field", bad(f'"extra": {deep_object(10_000)}'), "too_deep"),
    ("40-deep properties", bad(f'"properties": {deep_object(40)}'), "too_deep"),
]
IDS = [case[0] for case in CASES]
# Found by the checks that need the database: in queued mode after the response (by the drain).
DRAIN_CODES = {"invalid_trait"}


@pytest.fixture
def creds(make_source):
    return make_source("Web")


def post(client, path, body: bytes, key: str, **headers):
    return client.generic(
        "POST",
        path,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        **headers,
    )


def batch_body(*messages: str, **fields) -> bytes:
    extra = "".join(f', "{k}": {json.dumps(v)}' for k, v in fields.items())
    return f'{{"batch": [{", ".join(messages)}]{extra}}}'.encode()


def assert_good_stored_and_bad_quarantined(code: str):
    assert list(Event.objects.values_list("message_id", flat=True)) == ["good"]
    rejected = RejectedMessage.objects.get()
    assert rejected.reason_code == code
    assert rejected.payload is not None  # what the client sent, made storable
    return rejected


@pytest.mark.parametrize("case,message,code", CASES, ids=IDS)
def test_inline_a_bad_value_rejects_its_message_alone(client, creds, case, message, code):
    # when
    response = post(client, "/v1/batch", batch_body(GOOD, message), creds.write_key)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, code)]
    assert body["rejected"][0]["message"]
    assert_good_stored_and_bad_quarantined(code)
    stat = SourceDailyStat.objects.get(source=creds.source)
    assert (stat.accepted, stat.rejected) == (1, 1)


@pytest.mark.parametrize("case,message,code", CASES, ids=IDS)
@override_settings(INGEST_MODE="queued")
def test_queued_a_bad_value_rejects_its_message_alone_and_the_drain_stores_the_rest(
    client, creds, django_capture_on_commit_callbacks, case, message, code
):
    # when (sync django-q2: the drain task enqueued after the accept's commit runs in the request)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/v1/batch", batch_body(GOOD, message), creds.write_key)
    # then
    assert response.status_code == 200
    expected = [] if code in DRAIN_CODES else [(1, code)]
    assert [(r["index"], r["code"]) for r in response.json().get("rejected", [])] == expected
    assert_good_stored_and_bad_quarantined(code)
    assert not InboundBatch.objects.exists()


# What the queue may already hold (stored before these checks existed): the drain rejects it alone.
STORABLE = [
    case
    for case in CASES
    if case[2] in ("invalid_timestamp", "invalid_trait") or case[0] == "40-deep properties"
]


@pytest.mark.parametrize("case,message,code", STORABLE, ids=[c[0] for c in STORABLE])
def test_the_drain_rejects_a_bad_stored_message_alone(creds, case, message, code):
    # given: an acknowledged request holding a valid message and a bad one
    messages = [json.loads(GOOD), json.loads(message)]
    InboundBatch.objects.create(source=creds.source, received_at=timezone.now(), messages=messages, count=2)
    # when
    queue.process_inbound(linger=0)
    # then
    assert_good_stored_and_bad_quarantined(code)
    assert not InboundBatch.objects.exists()


def test_the_drain_quarantines_a_poison_message_and_stores_its_neighbours(creds, monkeypatch):
    # given: two stored requests; one message makes processing fail (a bug, not a bad value)
    from identity.pipeline import prepare

    InboundBatch.objects.create(
        source=creds.source,
        received_at=timezone.now(),
        messages=[json.loads(GOOD), {"type": "track", "userId": "u2", "event": "Poison", "messageId": "p"}],
        count=2,
    )
    InboundBatch.objects.create(
        source=creds.source,
        received_at=timezone.now(),
        messages=[{"type": "track", "userId": "u3", "event": "Other", "messageId": "o"}],
        count=1,
    )
    real = prepare.normalize_message

    def poisoned(raw, **kwargs):
        if raw.get("event") == "Poison":
            raise OverflowError("date value out of range")
        return real(raw, **kwargs)

    monkeypatch.setattr(prepare, "normalize_message", poisoned)
    # when
    queue.process_inbound(linger=0)
    # then
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["good", "o"]
    rejected = RejectedMessage.objects.get()
    assert (rejected.reason_code, rejected.message_id) == ("processing_failed", "p")
    assert "OverflowError: date value out of range" in rejected.reason
    assert not InboundBatch.objects.exists()


@pytest.mark.parametrize(
    "body,code",
    [
        (b'{"userId": "r1", "event": "a\\u0000b"}', "invalid_text"),
        (f'{{"userId": "r1", "event": "Deep", "properties": {deep_object(10_000)}}}'.encode(), "too_deep"),
        (f'{{"userId": "r1", "event": "Deep", "x": {deep_array(10_000)}}}'.encode(), "too_deep"),
    ],
    ids=["nul in event name", "deep properties", "deep top-level field"],
)
def test_single_message_routes_reject_the_message_with_200(client, creds, body, code):
    # when
    response = post(client, "/v1/track", body, creds.write_key)
    # then
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["rejected"]] == [code]
    assert not Event.objects.exists()
    assert RejectedMessage.objects.get().reason_code == code


def test_5000_levels_gzipped_reject_only_their_message(client, creds):
    # given
    body = gzip.compress(batch_body(GOOD, bad(f'"properties": {deep_object(5_000)}')))
    # when
    response = post(client, "/v1/batch", body, creds.write_key, HTTP_CONTENT_ENCODING="gzip")
    # then
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["rejected"]] == ["too_deep"]
    assert_good_stored_and_bad_quarantined("too_deep")
    assert "nested" in json.dumps(RejectedMessage.objects.get().payload)


def test_a_batch_level_sent_at_out_of_range_is_ignored(client, creds):
    # when
    response = post(
        client, "/v1/batch", batch_body(GOOD, sentAt="9999-12-31T23:00:00-23:00"), creds.write_key
    )
    # then: stored without clock-skew correction
    assert response.status_code == 200 and response.json() == {"success": True}
    event = Event.objects.get()
    assert event.message_id == "good" and event.sent_at is None


def test_deep_junk_beside_the_batch_is_ignored(client, creds):
    # when
    response = post(
        client,
        "/v1/batch",
        batch_body(GOOD)[:-1] + f', "junk": {deep_object(10_000)}}}'.encode(),
        creds.write_key,
    )
    # then
    assert response.status_code == 200 and response.json() == {"success": True}
    assert list(Event.objects.values_list("message_id", flat=True)) == ["good"]


@pytest.mark.parametrize(
    "body,status,code",
    [
        (deep_array(10_000).encode(), 400, "invalid_batch"),
        (batch_body(GOOD)[:-1] + b', "context": {"ip": "1\\u0000"}}', 400, "invalid_text"),
        (batch_body(GOOD)[:-1] + b', "integrations": {"x": NaN}}', 400, "invalid_number"),
        (batch_body(GOOD)[:-1] + f', "context": {deep_object(50)}}}'.encode(), 400, "too_deep"),
        (b'{"batch": [' + b"1e99999" + b"]}", 200, None),
    ],
    ids=[
        "10,000-deep body",
        "nul in batch context",
        "NaN in batch integrations",
        "deep batch context",
        "1e99999 as a message",
    ],
)
@pytest.mark.parametrize("mode", ["inline", "queued"])
def test_a_body_unusable_as_a_whole_is_a_400_and_nothing_is_stored(
    client, creds, settings, body, status, code, mode
):
    # given
    settings.INGEST_MODE = mode
    # when
    response = post(client, "/v1/batch", body, creds.write_key)
    # then
    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == code and response.json()["message"]
        assert not RejectedMessage.objects.exists()
    else:
        assert [r["code"] for r in response.json()["rejected"]] == ["invalid_number"]
    assert not Event.objects.exists() and not InboundBatch.objects.exists()


def test_a_write_key_in_the_body_with_a_lone_surrogate_is_a_401(client, creds):
    # when
    response = client.generic(
        "POST", "/v1/batch", b'{"batch": [], "writeKey": "\\ud800"}', content_type="text/plain"
    )
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
