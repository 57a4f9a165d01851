"""Setup shared by the CSV import and export tests (plain functions and fixtures, imported by them)."""

from datetime import UTC, datetime

import pytest

from identity.services import ingest_batch

SDK_CITY = {
    "type": "identify",
    "userId": "p1",
    "timestamp": "2030-01-01T00:00:00Z",
    "traits": {"email": "pa@example.com", "city": "Paris"},
}


def sdk_identify(*more: dict):
    """A *Website SDK* source (priority above CSV) that set pa@example.com's city to Paris in 2030,
    plus ``more`` identify messages of the same source; returns the source."""
    from people.services import source_create
    from tests.factories import make_channel

    sdk = source_create(name="Website SDK", channel=make_channel()).source
    ingest_batch(source=sdk, messages=[SDK_CITY, *more], received_at=datetime(2030, 1, 2, tzinfo=UTC))
    return sdk


def tiered_people(*messages: dict) -> None:
    """The text attribute *tier* and the people ``messages`` (identify and track) bring in through the
    CSV import source: what an export has to write out."""
    from people.models import AttributeDefinition
    from people.services import csv_import_source

    AttributeDefinition.objects.create(key="tier", label="Tier", type="text")
    ingest_batch(source=csv_import_source(), messages=list(messages))


@pytest.fixture
def staff(client, marketeer_user):
    """The test client logged in as a Marketeer (allowed to import and export people)."""
    client.force_login(marketeer_user)
    return client
