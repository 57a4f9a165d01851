import pytest

from identity import extensions
from identity.models import Identity
from identity.services import ingest_batch
from privacy import services


@pytest.fixture(autouse=True)
def _identifier_types(identifier_types):
    """Every test starts with the default identifier types (tests/conftest.py)."""


@pytest.fixture
def signing_key(db):
    from django.core.cache import cache

    from people.models import OrganizationSettings
    from people.selectors import organization

    organization()
    OrganizationSettings.objects.update(webhook_signing_key="org-key-1")
    cache.clear()
    return "org-key-1"


@pytest.fixture
def run_request(django_capture_on_commit_callbacks):
    """Create a request as ``user`` and run its job (django-q2 sync) after commit."""

    def run(kind, *identities, user=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            request = services.request_create(
                kind=kind,
                identities=[{"type": t, "value": v} for t, v in identities],
                requested_by=user,
                **kwargs,
            )
        request.refresh_from_db()
        return request

    return run


def person_of(type_key: str, value: str):
    identity = Identity.objects.select_related("person").filter(type__key=type_key, value=value).first()
    return identity.person if identity else None


def filters_wired(source) -> bool:
    """Does ingestion call the registered message filters? (Wired on the ingest helper's branch.)"""
    from django.db import transaction

    class Rollback(Exception):
        pass

    probe = ("user_id", "privacy-wiring-probe")
    extensions.register_message_filter(
        "tests.probe", lambda idents: {probe: "probe"} if probe in idents else {}
    )
    wired = False
    try:
        with transaction.atomic():
            result = ingest_batch(
                source=source,
                messages=[
                    {"type": "track", "userId": probe[1], "event": "Probe", "messageId": "wiring-probe"}
                ],
            )
            wired = result.accepted == 0
            raise Rollback
    except Rollback:
        pass
    finally:
        extensions.message_filters.pop("tests.probe", None)
    return wired


@pytest.fixture
def wired_filters(source):
    """Ingestion calls the registered message filters (asserted: these tests cannot pass without it)."""
    assert filters_wired(source), "ingestion must call identity.extensions.blocked_identifiers"


filters_in_ingestion = wired_filters
