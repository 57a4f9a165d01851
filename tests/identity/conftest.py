import pytest

from identity.models import Identity
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
