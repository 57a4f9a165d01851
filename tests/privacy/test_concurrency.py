"""Ingestion during an erasure: the person is not resurrected, other people's data keeps flowing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from identity.models import Identity
from identity.services import ingest_batch
from people.models import Event, Person
from privacy import erasure, services
from privacy.models import RequestStatus
from tests.privacy.conftest import person_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestion_does_not_resurrect_the_erased_person(source, monkeypatch, filters_in_ingestion):
    # given: a person with many events (small batches, so the erasure takes a while)
    monkeypatch.setattr(erasure, "BATCH", 300)
    ingest_batch(source=source, messages=[{"type": "identify", "userId": "fay-1", "messageId": "f0"}])
    fay = person_of("user_id", "fay-1")
    Event.objects.bulk_create(
        [Event(person=fay, name="Tick", timestamp=timezone.now(), message_id=f"f{i}") for i in range(1, 6000)]
    )
    request = services.request_create(kind="erasure", identities=[{"type": "user_id", "value": "fay-1"}])
    stop = threading.Event()
    sent = {"fay": 0, "others": 0}

    def keep_sending():
        n = 0
        try:
            while not stop.is_set():
                n += 1
                ingest_batch(
                    source=source,
                    messages=[
                        {"type": "track", "userId": "fay-1", "event": "Late", "messageId": f"late-{n}"},
                        {"type": "track", "userId": f"other-{n % 5}", "event": "Tick", "messageId": f"o-{n}"},
                    ],
                )
                sent["fay"] += 1
                sent["others"] += 1
        finally:
            connection.close()

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        # when: the erasure starts while batches for her are flowing, and they keep flowing after it
        _wait_until(lambda: sent["fay"] >= 3)
        services.request_process(request_id=request.pk)
        after = sent["fay"]
        _wait_until(lambda: sent["fay"] >= after + 3)
    finally:
        stop.set()
        sender.join()
    # then
    request.refresh_from_db()
    assert request.status == RequestStatus.COMPLETED, request.error
    assert not Identity.objects.filter(value="fay-1").exists()
    assert not Person.objects.filter(pk=fay.pk).exists()
    assert not Event.objects.filter(name="Late").exists()
    assert (
        Event.objects.filter(name="Tick", person__identities__value__startswith="other-").count()
        == sent["others"]
    )


def _wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.05)
