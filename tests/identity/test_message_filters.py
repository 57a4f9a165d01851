"""Message filters registered by higher apps (identity.extensions): messages carrying a blocked
identifier are dropped, answered 200, counted per reason, never quarantined."""

import base64
import json

import pytest

from identity import extensions
from identity.models import SourceDailyStat
from identity.services import ingest_batch
from people.models import Event, Person, RejectedMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def erased(monkeypatch):
    """A filter as the privacy app registers it: erased emails and one suppressed user id."""
    calls = []

    def message_filter(idents):
        calls.append(set(idents))
        verdict = {}
        for ident in idents:
            if ident == ("email", "gone@example.com"):
                verdict[ident] = "erased"
            if ident in {("user_id", "quiet"), ("anonymous_id", "old-anon")}:
                verdict[ident] = "suppressed_profile"
        return verdict

    monkeypatch.setitem(extensions.message_filters, "test", message_filter)
    return calls


def test_messages_with_a_blocked_identifier_are_dropped_and_counted_per_reason(make_source, erased):
    # given
    source = make_source("Web").source
    messages = [
        {"type": "identify", "userId": "u1", "traits": {"email": "Gone@Example.com"}, "messageId": "a"},
        {"type": "track", "userId": "quiet", "event": "Clicked", "messageId": "b"},
        {"type": "alias", "userId": "u9", "previousId": "old-anon", "messageId": "c"},
        {"type": "track", "userId": "kept", "event": "Clicked", "messageId": "d"},
    ]
    # when
    result = ingest_batch(source=source, messages=messages)
    # then
    assert result.body() == {"success": True}
    assert result.accepted == 1 and dict(result.blocked) == {"erased": 1, "suppressed_profile": 2}
    assert list(Event.objects.values_list("message_id", flat=True)) == ["d"]
    assert Person.objects.count() == 1
    assert not RejectedMessage.objects.exists()
    stat = SourceDailyStat.objects.get(source=source)
    assert (stat.accepted, stat.suppressed, stat.rejected) == (1, 3, 0)
    # the filter saw every normalized identifier of the batch in one call
    assert len(erased) == 1
    assert {("email", "gone@example.com"), ("user_id", "quiet"), ("user_id", "kept")} <= erased[0]


def test_a_blocked_message_over_http_is_answered_200_like_any_other(client, make_source, erased):
    # given
    creds = make_source("Web")
    body = {"batch": [{"type": "track", "userId": "quiet", "event": "Clicked", "messageId": "b"}]}
    # when
    response = client.post(
        "/v1/batch",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{creds.write_key}:".encode()).decode(),
    )
    # then
    assert response.status_code == 200 and response.json() == {"success": True}
    assert not Event.objects.exists() and not RejectedMessage.objects.exists()


def test_without_filters_nothing_is_blocked(make_source):
    # given
    source = make_source("Web").source
    # when
    result = ingest_batch(source=source, messages=[{"type": "track", "userId": "quiet", "event": "E"}])
    # then
    assert result.accepted == 1 and not result.blocked
