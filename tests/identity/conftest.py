import pytest

from identity.models import Identity
from identity.policy import ensure_default_types
from identity.services import ingest_batch


@pytest.fixture
def source(make_source):
    return make_source("Website").source


@pytest.fixture
def ingest(source):
    """Ingest messages from the default source (or another one)."""

    def run(*messages, src=None, **kwargs):
        return ingest_batch(source=src or source, messages=list(messages), **kwargs)

    return run


def person_of(type_key: str, value: str):
    return Identity.objects.select_related("person").get(type__key=type_key, value=value).person


@pytest.fixture(autouse=True)
def identifier_types(request):
    """The default identifier types (a flush after a transactional test removes the migration's rows)."""
    if request.node.get_closest_marker("django_db") is None and "db" not in request.fixturenames:
        return
    request.getfixturevalue("db")
    ensure_default_types()
