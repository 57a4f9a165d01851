import base64

import pytest

from identity.models import Identity
from identity.services import access_token_create


@pytest.fixture(autouse=True)
def _identifier_types(identifier_types):
    """Every test starts with the default identifier types (tests/conftest.py)."""


def person_of(type_key: str, value: str):
    return Identity.objects.select_related("person").get(type__key=type_key, value=value).person


@pytest.fixture
def auth(db):
    """Request headers authenticating with a new Profile API token (HTTP Basic)."""
    raw = access_token_create(name="t").raw
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{raw}:".encode()).decode()}
