"""Real threads against PostgreSQL: one profile per new person, merges that never deadlock."""

import threading
import time

import pytest
from django.db import connection

from identity.models import Identity, Merge
from identity.policy import Policy
from identity.services import ingest_batch
from people.models import Event, Person

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


THREAD_SECONDS = 60


def run_threads(target, args_list):
    """Run ``target(*args)`` for each ``args`` in its own thread, all released at once; returns the
    exceptions raised. Fails the test when a thread has not finished within ``THREAD_SECONDS``."""
    barrier = threading.Barrier(len(args_list))
    errors = []

    def worker(*args):
        try:
            barrier.wait()
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=args, daemon=True) for args in args_list]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + THREAD_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [thread.name for thread in threads if thread.is_alive()]
    if hung:  # a deadlock or a lost lock: fail here instead of passing on what finished
        pytest.fail(f"{len(hung)} of {len(threads)} threads still running after {THREAD_SECONDS} s: {hung}")
    return errors


def test_simultaneous_messages_for_a_new_person_create_exactly_one_profile(make_source):
    # given
    source = make_source("Web").source
    Policy.load()  # the identifier types exist (a flush between transactional tests removes them)

    def send(i):
        ingest_batch(
            source=source,
            messages=[
                {"type": "track", "userId": "same-user", "anonymousId": f"device-{i}", "event": "Opened"}
            ],
        )

    # when
    errors = run_threads(send, [(i,) for i in range(8)])
    # then
    assert errors == []
    assert Person.objects.count() == 1
    person = Person.objects.get()
    assert Identity.objects.filter(person=person).count() == 9
    assert Event.objects.filter(person=person).count() == 8
    person.refresh_from_db()
    assert person.event_count == 8


def test_crossing_merges_do_not_deadlock(make_source):
    # given: four separate profiles
    source = make_source("Web").source
    for i in range(4):
        ingest_batch(source=source, messages=[{"type": "identify", "anonymousId": f"a{i}"}])

    def link(pairs):
        for left, right in pairs:
            ingest_batch(
                source=source,
                messages=[
                    {
                        "type": "track",
                        "anonymousId": f"a{left}",
                        "event": "Link",
                        "context": {"externalIds": [{"type": "cross_domain_id", "id": f"a{right}"}]},
                    }
                ],
            )
            ingest_batch(
                source=source,
                messages=[
                    {
                        "type": "identify",
                        "anonymousId": f"a{right}",
                        "context": {"externalIds": [{"type": "cross_domain_id", "id": f"a{right}"}]},
                    }
                ],
            )

    # when: threads link the profiles in opposite orders
    errors = run_threads(link, [([(0, 1), (2, 3), (1, 2)],), ([(3, 2), (1, 0), (2, 1)],), ([(0, 3)],)])
    # then
    assert errors == []
    live = Person.objects.filter(merged_into__isnull=True)
    assert live.count() == 1
    assert Merge.objects.count() == 3
    assert Identity.objects.exclude(person__in=live).count() == 0


def test_an_unmerge_committed_while_a_batch_waits_for_its_lock_is_seen(make_source):
    # given: a1 merged into u1's profile
    import time

    from django.db import transaction

    from identity.services import merge_undo

    source = make_source("Web").source
    Policy.load()
    ingest_batch(source=source, messages=[{"type": "track", "userId": "u1", "event": "A"}])
    ingest_batch(source=source, messages=[{"type": "track", "anonymousId": "a1", "event": "B"}])
    ingest_batch(
        source=source, messages=[{"type": "track", "userId": "u1", "anonymousId": "a1", "event": "C"}]
    )
    merge = Merge.objects.get()
    undone = threading.Event()

    def undo():
        with transaction.atomic():
            merge_undo(merge=merge)
            undone.set()
            time.sleep(0.5)  # the batch below looks a1 up (still u1's) and waits for u1's lock

    def send():
        undone.wait(10)
        ingest_batch(source=source, messages=[{"type": "track", "anonymousId": "a1", "event": "D"}])

    # when
    errors = run_threads(lambda f: f(), [(undo,), (send,)])
    # then: the batch saw the unmerge (u1's row changed under its lock) and resolved again
    assert errors == []
    event = Event.objects.get(name="D")
    assert event.person_id == merge.child_id
    child = Person.objects.get(pk=merge.child_id)
    assert child.merged_into_id is None and child.event_count == 2


def test_a_hung_thread_fails_the_test_instead_of_passing(monkeypatch):
    # given a time limit shorter than a thread's work
    monkeypatch.setattr("tests.identity.test_concurrency.THREAD_SECONDS", 0.2)
    release = threading.Event()
    # when one of the threads never finishes within it
    with pytest.raises(pytest.fail.Exception) as failed:
        run_threads(lambda wait: release.wait(wait), [(0,), (5,)])
    release.set()
    # then the helper says so
    assert "1 of 2 threads still running after 0.2 s" in str(failed.value)
