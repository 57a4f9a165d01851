"""Changed people are recorded with the change and refreshed after commit by one drain: every
pending change of every transaction, grouped by reason, each task path once per group, in order."""

import pytest
from django.core.cache import cache
from django.db import transaction

from people import services
from people.models import PendingChange

pytestmark = pytest.mark.django_db(transaction=True)

CALLS: list[tuple[str, list[int], str]] = []
RECORDERS = ["tests.people.test_pending_changes.computed", "tests.people.test_pending_changes.audiences"]


def _call(name, person_ids, reason, events):
    names = [] if events is None else [{pk: sorted(events[pk]) for pk in person_ids}]
    CALLS.append((name, list(person_ids), reason, *names))


def computed(person_ids, reason="", events=None):
    _call("computed", person_ids, reason, events)


def audiences(person_ids, reason="", events=None):
    _call("audiences", person_ids, reason, events)


def failing(person_ids, reason="", events=None):
    _call("failing", person_ids, reason, events)
    raise RuntimeError("refresh broke")


@pytest.fixture
def recorded(settings):
    settings.ATTUNE_PERSON_CHANGED_TASKS = RECORDERS
    # a real cache for the flag (the test settings' dummy cache never holds it)
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    CALLS.clear()
    cache.delete(services.KICK_KEY)
    yield CALLS
    cache.delete(services.KICK_KEY)


def test_a_committed_change_is_refreshed_at_once_and_leaves_nothing_pending(recorded):
    # when a transaction changes two people
    with transaction.atomic():
        services.notify_people_changed([7, 3, 7], reason="ingest")
        # then nothing runs before the commit
        assert recorded == []
    # and after it, each task path runs once for both, computed attributes before audiences
    assert recorded == [("computed", [3, 7], "ingest"), ("audiences", [3, 7], "ingest")]
    assert PendingChange.objects.count() == 0


def test_a_rolled_back_change_is_never_refreshed(recorded):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.notify_people_changed([5], reason="ingest")
        raise RuntimeError("the write failed")
    services.drain_changes()
    assert recorded == []
    assert PendingChange.objects.count() == 0


def test_changes_of_many_transactions_share_one_drain_grouped_by_reason(recorded):
    # given a drain already waiting (its flag set), three transactions commit changes
    cache.add(services.KICK_KEY, 1, timeout=60)
    for ids, reason in (([1, 2], "ingest"), ([2, 3], "attributes"), ([4], "attributes")):
        with transaction.atomic():
            services.notify_people_changed(ids, reason=reason)
    # then none ran on its own
    assert recorded == []
    assert PendingChange.objects.count() == 5
    # when the drain runs
    assert services.drain_changes() == 4
    # then people are grouped by all their reasons: an attribute-only change stays attribute-only
    assert recorded == [
        ("computed", [1], "ingest"),
        ("audiences", [1], "ingest"),
        ("computed", [2], "attributes, ingest"),
        ("audiences", [2], "attributes, ingest"),
        ("computed", [3, 4], "attributes"),
        ("audiences", [3, 4], "attributes"),
    ]
    assert PendingChange.objects.count() == 0
    # and the flag is cleared: the next change is refreshed at once
    CALLS.clear()
    with transaction.atomic():
        services.notify_people_changed([9], reason="merge")
    assert recorded == [("computed", [9], "merge"), ("audiences", [9], "merge")]


def test_people_who_only_got_events_are_refreshed_by_the_events_names(recorded):
    # given a drain waiting, people who only got events (two transactions for person 1), and one
    # who also changed otherwise
    cache.add(services.KICK_KEY, 1, timeout=60)
    for changes in ({1: ["Order Completed"], 2: ["Page Viewed"]}, {1: ["Page Viewed"], 3: ["Page Viewed"]}):
        with transaction.atomic():
            services.notify_people_changed(changes, reason="events", events=changes)
    with transaction.atomic():
        services.notify_people_changed([3], reason="attributes")
    # when the drain runs
    assert services.drain_changes() == 3
    # then each task gets, per person, the names of all their events; a person with another
    # change is refreshed in full (no names)
    events = {1: ["Order Completed", "Page Viewed"], 2: ["Page Viewed"]}
    assert [c for c in recorded if c[0] == "computed"] == [
        ("computed", [1, 2], "events", events),
        ("computed", [3], "attributes, events"),
    ]


def test_the_drain_takes_chunks_until_nothing_is_left(recorded):
    cache.add(services.KICK_KEY, 1, timeout=60)
    with transaction.atomic():
        services.notify_people_changed(range(1, 6), reason="ingest")
    assert services.drain_changes(chunk=2) == 5
    assert [ids for name, ids, *_ in recorded if name == "computed"] == [[1, 2], [3, 4], [5]]


def test_a_failing_task_does_not_stop_the_others_and_fails_the_drain(recorded, settings):
    settings.ATTUNE_PERSON_CHANGED_TASKS = ["tests.people.test_pending_changes.failing", RECORDERS[1]]
    cache.add(services.KICK_KEY, 1, timeout=60)
    with transaction.atomic():
        services.notify_people_changed([1], reason="ingest")
    with pytest.raises(RuntimeError, match="refresh broke"):
        services.drain_changes()
    assert recorded == [("failing", [1], "ingest"), ("audiences", [1], "ingest")]
    assert PendingChange.objects.count() == 0
    assert cache.get(services.KICK_KEY) is None


def test_nothing_is_recorded_without_task_paths(recorded, settings):
    settings.ATTUNE_PERSON_CHANGED_TASKS = []
    with transaction.atomic():
        services.notify_people_changed([1], reason="ingest")
    assert PendingChange.objects.count() == 0
