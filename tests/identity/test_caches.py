"""Cached reads (identifier types, access tokens, definitions, sources) follow every change at once."""

import base64
import json
import re

import pytest
from django.core.exceptions import ValidationError

from identity import services
from identity.models import IdentifierType, Identity
from identity.policy import Policy
from people.models import Channel, Event, EventDefinition, EventPropertyDefinition, Person, RejectedMessage

pytestmark = pytest.mark.django_db


def test_an_identifier_type_saved_by_the_service_reaches_the_cached_policy():
    # given the cached policy read once
    assert Policy.cached().get("email").limit == 5
    # when the email limit changes through the service
    email = IdentifierType.objects.get(key="email")
    email.limit = 2
    services.identifier_type_save(identifier_type=email)
    # then the cached policy follows
    assert Policy.cached().get("email").limit == 2


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"key": "Bad Key"}, "key", "Lower-case letters, digits, dots and underscores."),
        ({"key": "email"}, "key", "Identifier type with this Key already exists."),
        ({"normalizer": "soundex"}, "normalizer", "Value 'soundex' is not a valid choice."),
    ],
)
def test_bad_identifier_types_are_refused_with_a_reason(fields, field, error):
    with pytest.raises(ValidationError) as caught:
        services.identifier_type_save(identifier_type=IdentifierType(**{"key": "loyalty_id", **fields}))
    assert error in caught.value.message_dict[field]
    assert not IdentifierType.objects.filter(key="loyalty_id").exists()


def test_a_token_disabled_or_deleted_by_the_service_stops_working_at_once(client):
    # given two tokens just used (so they sit in the per-process cache)
    url = "/v1/spaces/default/collections/users/profiles/user_id:nobody/traits"
    first, second = services.access_token_create(name="A"), services.access_token_create(name="B")
    for issued in (first, second):
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {issued.raw}").status_code == 404
    # when one is disabled and the other deleted through the services
    services.access_token_update(token=first.token, enabled=False)
    services.access_tokens_delete(tokens=[second.token])
    # then both are refused
    for issued in (first, second):
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid access token."


# --- what every tracking request reads, kept per process ------------------------------------------

TRACK = "/v1/track"


def _track(client, key, **fields):
    body = {"type": "track", "userId": "u1", "event": "Signed Up", **fields}
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return client.post(TRACK, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)


@pytest.fixture
def strict(make_source):
    return make_source(
        "App", channel=Channel.objects.create(key="app", name="App", schema_enforcement="strict")
    )


def test_definitions_saved_anywhere_reach_the_next_request(client, strict):
    # given an event the strict channel does not know yet, refused (and the definitions now cached)
    assert _track(client, strict.write_key).status_code == 200
    assert RejectedMessage.objects.get().reason_code == "undefined_event"
    # when it is defined outside any service (the shell), with a required property
    definition = EventDefinition.objects.create(name="Signed Up")
    EventPropertyDefinition.objects.create(definition=definition, key="plan", type="text", required=True)
    # then the next requests are checked against the new definitions
    _track(client, strict.write_key, properties={"plan": "pro"}, messageId="ok")
    _track(client, strict.write_key, properties={}, messageId="missing")
    assert list(Event.objects.values_list("message_id", "properties")) == [("ok", {"plan": "pro"})]
    assert (
        RejectedMessage.objects.latest("pk").reason
        == "Event 'Signed Up' requires property 'plan'; it is missing."
    )
    # and a deleted definition is gone for the next request too
    definition.delete()
    _track(client, strict.write_key, properties={"plan": "pro"}, messageId="after-delete")
    assert RejectedMessage.objects.latest("pk").reason_code == "undefined_event"


def test_an_attribute_defined_in_the_shell_is_written_by_the_next_identify(ingest):
    from people.models import AttributeDefinition

    # given a trait seen once (auto-defined as text on the permissive channel) and the cache warm
    ingest({"type": "identify", "userId": "u1", "traits": {"tier": "gold"}})
    # when an attribute of another type is defined in the shell
    AttributeDefinition.objects.create(key="visits", label="Visits", type="integer")
    # then the next batch writes it with that type
    ingest({"type": "identify", "userId": "u1", "traits": {"visits": "7"}})
    assert Person.objects.get().custom["visits"] == 7


def test_a_source_disabled_or_rekeyed_stops_its_write_key_at_once(client, make_source):
    from people.services import source_rotate_write_key

    # given two write keys just used (their sources now cached)
    first, second = make_source("One"), make_source("Two")
    assert _track(client, first.write_key).status_code == 200
    assert _track(client, second.write_key).status_code == 200
    # when one source is disabled in the shell and the other's key is rotated by the service
    first.source.enabled = False
    first.source.save()
    rotated = source_rotate_write_key(source=second.source)
    # then the old keys are refused and the new key works
    assert _track(client, first.write_key).status_code == 401
    assert _track(client, second.write_key).status_code == 401
    assert _track(client, rotated.write_key).status_code == 200


def test_an_identifier_type_changed_in_the_shell_reaches_the_next_batch(ingest):
    # given the policy cached by a first batch
    ingest({"type": "identify", "userId": "u1", "traits": {"email": "ok@example.com"}})
    # when a value is blocked outside the service
    email = IdentifierType.objects.get(key="email")
    email.blocked_values = ["test@example.com"]
    email.save()
    # then the next batch leaves it out
    ingest({"type": "identify", "userId": "u2", "traits": {"email": "test@example.com"}})
    assert not Identity.objects.filter(value="test@example.com").exists()


def test_a_request_with_warm_caches_reads_no_definitions_types_or_sources(client, make_source):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given a first request (definitions, identifier types and the source read once)
    creds = make_source("Web")
    assert _track(client, creds.write_key, messageId="first").status_code == 200
    # when the next one comes
    with CaptureQueriesContext(connection) as queries:
        assert _track(client, creds.write_key, messageId="second").status_code == 200
    # then it reads none of them again
    cached = ("definition", "identity_identifiertype", "people_source", "people_channel")
    read = [q["sql"] for q in queries if any(re.search(rf'FROM "?\w*{t}\w*"? ', q["sql"]) for t in cached)]
    assert read == []
    assert Event.objects.filter(message_id="second").count() == 1
