"""The queued accept path (INGEST_MODE = "queued"), and the batch-wide write paths of the pipeline
(several merges, trait writes of one person in one batch) against their one-at-a-time equivalents."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from identity import queue
from identity.models import InboundBatch, Merge, SourceDailyStat
from identity.services import merge_undo
from people.models import AttributeChange, Channel, Event, Person, RejectedMessage
from tests.identity.conftest import person_of

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def at(minutes):
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def creds(make_source):
    return make_source("Web")


def post(client, path, body, key):
    return client.generic(
        "POST",
        path,
        json.dumps(body).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode(),
    )


def track(**fields):
    return {"type": "track", "userId": "u1", "event": "Clicked", **fields}


@override_settings(INGEST_MODE="queued")
def test_queued_mode_answers_exactly_200_success_and_processes_the_batch(
    client, creds, django_capture_on_commit_callbacks
):
    # when (django-q2 runs in sync mode in tests: the drain task, enqueued after the accept's commit,
    # runs before the response)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client, "/v1/batch", {"batch": [track(messageId="m1"), track(messageId="m2")]}, creds.write_key
        )
        single = post(
            client, "/v1/t", {"userId": "u2", "event": "Single", "messageId": "m3"}, creds.write_key
        )
    # then
    assert response.status_code == 200 and response.json() == {"success": True}
    assert single.status_code == 200 and single.json() == {"success": True}
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m1", "m2", "m3"]
    assert Event.objects.get(message_id="m3").type == "track"
    assert not InboundBatch.objects.exists()
    assert SourceDailyStat.objects.get(source=creds.source).accepted == 3


@override_settings(INGEST_MODE="queued")
def test_queued_mode_reports_cheap_rejections_and_quarantines_the_rest_later(
    client, make_source, django_capture_on_commit_callbacks
):
    # given: a strict channel (schema rejections need the database: found by the worker)
    strict = make_source(
        "Strict", channel=Channel.objects.create(key="strict", name="S", schema_enforcement="strict")
    )
    batch = [
        track(messageId="ok", event="Undefined"),
        {"type": "track", "event": "No ids", "messageId": "noid"},
        track(properties={"blob": "x" * 40_000}),
    ]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/v1/batch", {"batch": batch}, strict.write_key)
    # then
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["rejected"]] == ["no_user_anon_id", "message_too_large"]
    assert sorted(RejectedMessage.objects.values_list("reason_code", flat=True)) == [
        "message_too_large",
        "no_user_anon_id",
        "undefined_event",
    ]
    assert not Event.objects.exists()
    stat = SourceDailyStat.objects.get(source=strict.source)
    assert (stat.accepted, stat.rejected) == (0, 3)


def _store(source, messages, **fields):
    return InboundBatch.objects.create(
        source=source, received_at=timezone.now(), messages=messages, count=len(messages), **fields
    )


def test_drain_combines_stored_batches_per_source_and_a_replay_is_harmless(creds, make_source):
    # given: three stored requests from two sources, one replayed
    other = make_source("Other")
    _store(creds.source, [track(messageId="a1"), track(messageId="a2")], sent_at=timezone.now())
    _store(other.source, [track(userId="u9", messageId="b1")], context={"locale": "de"})
    _store(
        creds.source,
        [track(messageId="a1"), {"userId": "u3", "event": "Path", "messageId": "a3"}],
        path_type="track",
    )
    # when
    processed = queue.process_inbound(linger=0)
    # then
    assert processed == 5
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["a1", "a2", "a3", "b1"]
    assert Event.objects.get(message_id="b1").context["locale"] == "de"
    assert not InboundBatch.objects.exists()


def test_a_batch_the_database_cannot_take_stays_visible_with_its_error_and_can_be_retried(creds, monkeypatch):
    # given: the database is unreachable for one request (nothing is wrong with its data)
    good = _store(creds.source, [track(messageId="g1")])
    bad = _store(creds.source, [track(messageId="b1")])
    real = queue.ingest_parts

    def flaky(*, source, parts, **kwargs):
        if any(m.get("messageId") == "b1" for part in parts for m in part.messages):
            raise OperationalError("database on fire")
        return real(source=source, parts=parts, **kwargs)

    monkeypatch.setattr(queue, "ingest_parts", flaky)
    # when
    queue.process_inbound(linger=0)
    # then: the good request was processed alone, the bad one is failed with its error, not quarantined
    assert list(Event.objects.values_list("message_id", flat=True)) == ["g1"]
    assert not InboundBatch.objects.filter(pk=good.pk).exists()
    bad.refresh_from_db()
    assert bad.status == InboundBatch.Status.FAILED and bad.attempts == 1
    assert "database on fire" in bad.error
    assert not RejectedMessage.objects.exists()
    # when: fixed and retried (the admin action)
    monkeypatch.setattr(queue, "ingest_parts", real)
    queue.retry([bad])
    queue.process_inbound(linger=0)
    # then
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["b1", "g1"]
    assert not InboundBatch.objects.exists()


def test_inline_mode_stays_the_default(client, creds):
    response = post(client, "/v1/batch", {"batch": [track(messageId="i1")]}, creds.write_key)
    assert response.json() == {"success": True}
    assert Event.objects.filter(message_id="i1").exists()
    assert not InboundBatch.objects.exists()


# --- batch-wide writes ----------------------------------------------------------------------------


def test_several_merges_in_one_batch_match_one_at_a_time_and_undo(ingest):
    # given: three known users with history, three anonymous profiles with their own traits
    for n in range(3):
        ingest(
            {
                "type": "identify",
                "userId": f"u{n}",
                "traits": {"plan": "free", "city": "Berlin"},
                "timestamp": at(0),
            },
            {"type": "identify", "anonymousId": f"a{n}", "traits": {"plan": "pro"}, "timestamp": at(5)},
            {"type": "track", "anonymousId": f"a{n}", "event": "Viewed", "timestamp": at(6)},
        )
    parents = [person_of("user_id", f"u{n}") for n in range(3)]
    children = [person_of("anonymous_id", f"a{n}") for n in range(3)]
    before = [(c.custom, c.event_count, c.session_count) for c in children]
    # when: one batch merges the three pairs
    ingest(
        *[
            {"type": "track", "userId": f"u{n}", "anonymousId": f"a{n}", "event": "M", "timestamp": at(7)}
            for n in range(3)
        ]
    )
    # then
    assert Merge.objects.count() == 3
    for n, (parent, child) in enumerate(zip(parents, children, strict=True)):
        parent.refresh_from_db()
        child.refresh_from_db()
        assert child.merged_into_id == parent.pk
        assert parent.custom["plan"] == "pro" and parent.city == "Berlin"
        assert parent.event_count == 4 and Event.objects.filter(person=parent).count() == 4
        assert person_of("anonymous_id", f"a{n}") == parent
    merge = Merge.objects.get(child=children[1])
    assert merge.snapshot["events"] and merge.snapshot["identities"]
    assert AttributeChange.objects.filter(person=parents[1], operation="merge", key="plan").exists()
    # when: undo one of them
    merge_undo(merge=merge)
    # then
    child = Person.objects.get(pk=children[1].pk)
    assert child.merged_into is None
    assert (child.custom, child.event_count, child.session_count) == before[1]
    assert person_of("anonymous_id", "a1") == child


def test_a_single_merge_in_a_batch_moves_attributes_and_counters_and_undoes(ingest):
    # given: a known user with history, an anonymous profile with a standard and a custom trait
    ingest({"type": "identify", "userId": "u1", "traits": {"plan": "free"}, "timestamp": at(0)})
    ingest(
        {
            "type": "identify",
            "anonymousId": "a1",
            "traits": {"first_name": "Ada", "plan": "pro"},
            "timestamp": at(5),
        },
        {"type": "track", "anonymousId": "a1", "event": "Viewed", "timestamp": at(6)},
    )
    parent, child = person_of("user_id", "u1"), person_of("anonymous_id", "a1")
    child_before = (child.first_name, child.custom, child.event_count, child.session_count)
    # when: one message joins them (the merge storm's case: one merge in the batch)
    ingest({"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": at(7)})
    # then: the parent holds the child's newer values, events and counters; the child is linked, its own
    # attributes untouched
    parent.refresh_from_db()
    child.refresh_from_db()
    assert child.merged_into_id == parent.pk
    assert (parent.first_name, parent.custom["plan"]) == ("Ada", "pro")
    assert parent.event_count == 4 and Event.objects.filter(person=parent).count() == 4
    assert (child.first_name, child.custom) == ("Ada", {"plan": "pro"})
    changes = AttributeChange.objects.filter(person=parent, operation="merge").order_by("key")
    assert [(c.key, c.old_value, c.new_value) for c in changes] == [
        ("first_name", None, "Ada"),
        ("plan", "free", "pro"),
    ]
    merge = Merge.objects.get(child=child)
    assert (merge.parent_id, merge.snapshot["changed"]["plan"]["new"]) == (parent.pk, "pro")
    # when: undone
    merge_undo(merge=merge)
    # then: both profiles are as before
    child = Person.objects.get(pk=child.pk)
    parent.refresh_from_db()
    assert child.merged_into is None
    assert (child.first_name, child.custom, child.event_count, child.session_count) == child_before
    assert (parent.first_name, parent.custom["plan"]) == ("", "free")
    assert person_of("anonymous_id", "a1") == child


def test_trait_writes_of_one_batch_apply_in_message_order_by_event_time(ingest):
    # when: one batch, the same person, an older write after a newer one, then a set_once-free update
    ingest(
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro", "city": "Paris"}, "timestamp": at(10)},
        {"type": "identify", "userId": "u1", "traits": {"plan": "free"}, "timestamp": at(5)},
        {"type": "identify", "userId": "u1", "traits": {"city": "Rome"}, "timestamp": at(20)},
        {"type": "identify", "userId": "u2", "traits": {"plan": "team"}, "timestamp": at(1)},
    )
    # then
    person = person_of("user_id", "u1")
    assert person.custom["plan"] == "pro" and person.city == "Rome"
    assert person.attribute_meta["city"]["at"] == at(20)
    assert list(
        AttributeChange.objects.filter(person=person).order_by("pk").values_list("key", "new_value")
    ) == [("plan", "pro"), ("city", "Paris"), ("city", "Rome")]
    assert person_of("user_id", "u2").custom["plan"] == "team"


def test_batch_merges_snapshot_contacts_links_and_counters_as_stored(ingest):
    # given: two user/anonymous pairs; each child has a contact, a company link and events
    from identity.models import GroupMembership, Identity
    from people.models import EventDefinition, PersonChannelContact

    EventDefinition.objects.create(name="Emailed", is_contact=True)
    for n in range(2):
        ingest(
            {"type": "identify", "userId": f"u{n}", "traits": {"plan": "free"}, "timestamp": at(0)},
            {"type": "track", "userId": f"u{n}", "event": "Emailed", "timestamp": at(1)},
            {"type": "track", "anonymousId": f"a{n}", "event": "Emailed", "timestamp": at(2)},
            {"type": "group", "anonymousId": f"a{n}", "groupId": f"g{n}", "timestamp": at(3)},
        )
    pairs = [(person_of("user_id", f"u{n}"), person_of("anonymous_id", f"a{n}")) for n in range(2)]

    def contacts(person):
        return [
            {"channel": c, "at": t.isoformat()}
            for c, t in PersonChannelContact.objects.filter(person=person)
            .order_by("pk")
            .values_list("channel_id", "last_contacted_at")
        ]

    expected = {
        child.pk: {
            "identities": list(
                Identity.objects.filter(person=child).order_by("pk").values_list("pk", flat=True)
            ),
            "events": list(Event.objects.filter(person=child).order_by("pk").values_list("pk", flat=True)),
            "contacts": contacts(child),
            "parent_contacts": contacts(parent),
            "companies": list(
                GroupMembership.objects.filter(person=child).values_list("company_id", flat=True)
            ),
            "members": [],
            "grandchildren": [],
        }
        for parent, child in pairs
    }
    totals = {
        parent.pk: parent.event_count + child.event_count + 1 for parent, child in pairs
    }  # + the merging message
    # when: one batch merges both pairs (the set-based path)
    ingest(
        *[
            {"type": "track", "userId": f"u{n}", "anonymousId": f"a{n}", "event": "M", "timestamp": at(9)}
            for n in range(2)
        ]
    )
    # then: the snapshots hold what the child had; links and counters moved to the parent
    for parent, child in pairs:
        snapshot = Merge.objects.get(child=child).snapshot
        assert {key: snapshot[key] for key in expected[child.pk]} == expected[child.pk]
        parent.refresh_from_db()
        assert parent.event_count == totals[parent.pk] == Event.objects.filter(person=parent).count()
        assert GroupMembership.objects.filter(person=parent).count() == 1
        assert not PersonChannelContact.objects.filter(person=child).exists()


def test_a_known_identifier_seen_again_gets_the_batch_time_as_last_seen(ingest):
    # given
    from identity.models import Identity

    first = datetime(2024, 5, 1, 12, tzinfo=UTC)
    later = datetime(2024, 5, 2, 12, tzinfo=UTC)
    ingest({"type": "track", "userId": "u1", "event": "A"}, received_at=first)
    # when
    ingest({"type": "track", "userId": "u1", "event": "B"}, received_at=later)
    # then
    identity = Identity.objects.get(type__key="user_id", value="u1")
    assert (identity.first_seen_at, identity.last_seen_at) == (first, later)
    assert Person.objects.get(pk=identity.person_id).event_count == 2


@pytest.mark.parametrize(("configured", "cluster"), [("", None), ("ingest", "ingest")])
def test_the_drain_goes_to_its_own_queue_when_a_drain_cluster_is_configured(
    monkeypatch, settings, configured, cluster
):
    # given INGEST_DRAIN_CLUSTER set (or not)
    from django_q import tasks as q_tasks

    from identity import queue

    settings.INGEST_DRAIN_CLUSTER = configured
    sent = []
    monkeypatch.setattr(q_tasks, "async_task", lambda *args, **kwargs: sent.append((args, kwargs)))
    # when an accepted batch kicks the drain
    queue._kick()
    # then the drain task is queued for that cluster (None: the default queue)
    assert sent == [
        ((queue.TASK,), {"task_name": "identity: process inbound batches", "save": False, "cluster": cluster})
    ]
