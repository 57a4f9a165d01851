"""Identifier types and access tokens changed through their services are seen at once."""

import pytest
from django.core.exceptions import ValidationError

from identity import services
from identity.models import IdentifierType
from identity.policy import Policy

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
