import base64
import json

import pytest
from django.core.cache import cache

from actions import allocation, services, targeting
from identity.models import Identity
from identity.services import ingest_batch
from people.models import OrganizationSettings


@pytest.fixture(autouse=True)
def _fresh_action_caches():
    targeting.forget_compiled()
    allocation.forget_stats()
    cache.clear()
    yield
    targeting.forget_compiled()
    cache.clear()


@pytest.fixture(autouse=True)
def _identifier_types(identifier_types):
    """Every test starts with the default identifier types (tests/conftest.py)."""


@pytest.fixture
def org(db):
    """The organization in Europe/Berlin with a signing key."""
    org, _ = OrganizationSettings.objects.update_or_create(
        pk=1, defaults={"name": "Acme", "timezone": "Europe/Berlin", "webhook_signing_key": "k" * 64}
    )
    cache.clear()
    return org


@pytest.fixture
def web(make_source, org):
    """A web source (its write key) on channel ``web``; an ``app`` channel exists too."""
    from tests.factories import make_channel

    make_channel("app")
    return make_source("Website", channel=make_channel("web"))


@pytest.fixture
def app_source(make_source, web):
    from tests.factories import make_channel

    return make_source("App", channel=make_channel("app"))


@pytest.fixture
def known(web):
    """A person known by user id ``u1`` (created through tracking, as clients do)."""

    def make(user_id="u1", **traits):
        message = {"type": "identify", "userId": user_id, "traits": traits, "messageId": f"id-{user_id}"}
        ingest_batch(source=web.source, messages=[message])
        return Identity.objects.get(type__key="user_id", value=user_id).person

    return make


@pytest.fixture
def make_action(web):
    def make(**fields):
        fields.setdefault("name", "Banner")
        fields.setdefault("type", "banner")
        fields.setdefault("state", "active")
        fields.setdefault("channels", ["web"])
        return services.action_create(**fields)

    return make


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def api(client, web, django_capture_on_commit_callbacks):
    """POST/GET the client API with the web source's write key (after-commit work runs, as in
    production after the request's transaction)."""

    class Api:
        def post(self, path, body, key=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            with django_capture_on_commit_callbacks(execute=True):
                return client.generic(
                    "POST",
                    path,
                    data,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=basic(key or web.write_key),
                )

        def get(self, path, key=None, **params):
            with django_capture_on_commit_callbacks(execute=True):
                return client.get(path, params, HTTP_AUTHORIZATION=basic(key or web.write_key))

    return Api()
