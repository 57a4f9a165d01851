"""Identity resolution scenarios through the pipeline service (ingest_batch)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from identity.models import IdentifierType, Identity, Merge, SuppressedIdentifier
from identity.services import identifier_suppress, ingest_dry_run, merge_undo, people_merge_manual
from people.models import Event, EventDefinition, Person, PersonChannelContact
from tests.identity.conftest import person_of

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def at(minutes):
    return (T0 + timedelta(minutes=minutes)).isoformat()


def test_segment_merge_protection_example(ingest):
    # given: anonymous id a1 used by user u1
    ingest({"type": "identify", "userId": "u1", "anonymousId": "a1"})
    # when: the same device is used by user u2
    result = ingest({"type": "identify", "userId": "u2", "anonymousId": "a1"})
    # then: no merge; a1 stays with u1; u2 gets a new profile
    assert result.outcomes == {0: "create"}
    assert person_of("anonymous_id", "a1") == person_of("user_id", "u1") != person_of("user_id", "u2")
    assert Merge.objects.count() == 0
    assert Person.objects.count() == 2


def test_anonymous_activity_is_stitched_when_the_user_logs_in(ingest):
    # given
    ingest(
        {"type": "track", "anonymousId": "a1", "event": "Viewed", "timestamp": at(0)},
        {"type": "page", "anonymousId": "a1", "name": "Pricing", "timestamp": at(1)},
    )
    # when
    ingest({"type": "identify", "anonymousId": "a1", "userId": "u1", "traits": {"email": "u1@example.com"}})
    # then
    person = person_of("user_id", "u1")
    assert person == person_of("anonymous_id", "a1") == person_of("email", "u1@example.com")
    assert person.event_count == 3 and Event.objects.filter(person=person).count() == 3


def test_a_later_message_merges_two_stored_profiles_into_the_oldest(ingest):
    # given: an anonymous browser and a known user, separately
    ingest(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"email": "old@example.com", "plan": "free"},
            "timestamp": at(0),
        }
    )
    ingest(
        {"type": "track", "anonymousId": "a9", "event": "Viewed", "timestamp": at(5)},
        {"type": "identify", "anonymousId": "a9", "traits": {"plan": "pro"}, "timestamp": at(6)},
    )
    parent, child = person_of("user_id", "u1"), person_of("anonymous_id", "a9")
    # when
    ingest({"type": "track", "userId": "u1", "anonymousId": "a9", "event": "Logged In", "timestamp": at(10)})
    # then
    merge = Merge.objects.get()
    assert (merge.parent, merge.child) == (parent, child)
    parent.refresh_from_db()
    assert parent.custom["plan"] == "pro"  # most recently updated value wins
    assert person_of("anonymous_id", "a9") == parent
    assert Event.objects.filter(person=parent).count() == 4
    assert Person.objects.get(pk=child.pk).merged_into == parent


def test_email_shared_by_two_user_ids_does_not_merge_them(ingest):
    ingest({"type": "identify", "userId": "u1", "traits": {"email": "family@example.com"}})
    ingest({"type": "identify", "userId": "u2", "traits": {"email": "family@example.com"}})
    assert person_of("user_id", "u1") != person_of("user_id", "u2")
    assert person_of("email", "family@example.com") == person_of("user_id", "u1")
    assert Merge.objects.count() == 0


@pytest.mark.parametrize("value", ["null", "undefined", "-1", "0", "anonymous", "000-000", "NULL"])
def test_blocked_values_never_link_anyone(ingest, value):
    ingest({"type": "track", "userId": "u1", "anonymousId": value, "event": "A"})
    result = ingest({"type": "track", "userId": "u2", "anonymousId": value, "event": "B"})
    assert result.accepted == 1
    assert not Identity.objects.filter(type__key="anonymous_id").exists()
    assert person_of("user_id", "u1") != person_of("user_id", "u2")


def test_shared_inbox_added_by_an_admin_is_blocked(ingest):
    IdentifierType.objects.filter(key="email").update(blocked_values=["info@shop.example"])
    ingest({"type": "identify", "userId": "u1", "traits": {"email": "info@shop.example"}})
    assert not Identity.objects.filter(type__key="email").exists()


def test_limit_per_type_drops_the_lowest_priority_identifier_and_retries(ingest):
    # given: email limited to 2 per profile
    IdentifierType.objects.filter(key="email").update(limit=2)
    ingest({"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}})
    ingest({"type": "identify", "userId": "u1", "traits": {"email": "b@example.com"}})
    # when: a third email arrives for u1
    result = ingest({"type": "identify", "userId": "u1", "traits": {"email": "c@example.com"}})
    # then: the email (lower priority than user_id) is dropped; u1 still gets the message
    assert result.outcomes == {0: "match"}
    assert Identity.objects.filter(type__key="email").count() == 2
    assert not Identity.objects.filter(value="c@example.com").exists()


def test_priority_drop_keeps_the_higher_priority_identifier(ingest):
    # given: u1 has email e1; e2 belongs to u2
    ingest({"type": "identify", "userId": "u1", "traits": {"email": "e1@example.com"}})
    ingest({"type": "identify", "userId": "u2", "traits": {"email": "e2@example.com"}})
    # when: a message links u1 and e2 (merging would give a profile two user ids)
    result = ingest({"type": "identify", "userId": "u1", "traits": {"email": "e2@example.com"}})
    # then: e2 is dropped, the message resolves to u1, nobody is merged
    assert result.outcomes == {0: "match"}
    assert person_of("email", "e2@example.com") == person_of("user_id", "u2")
    assert Merge.objects.count() == 0


def test_unmerge_round_trip_restores_identifiers_events_and_attributes(ingest):
    # given
    ingest(
        {"type": "identify", "userId": "u1", "traits": {"plan": "free", "city": "Berlin"}, "timestamp": at(0)}
    )
    ingest(
        {"type": "identify", "anonymousId": "a1", "traits": {"plan": "pro"}, "timestamp": at(5)},
        {"type": "track", "anonymousId": "a1", "event": "Viewed", "timestamp": at(6)},
    )
    parent, child = person_of("user_id", "u1"), person_of("anonymous_id", "a1")
    before_parent = (parent.custom, parent.event_count, parent.session_count)
    before_child = (child.custom, child.event_count, child.session_count)
    ingest({"type": "track", "userId": "u1", "anonymousId": "a1", "event": "Merged", "timestamp": at(7)})
    merge = Merge.objects.get()
    parent.refresh_from_db()
    assert parent.custom["plan"] == "pro"
    # when
    merge_undo(merge=merge)
    # then
    parent.refresh_from_db()
    child.refresh_from_db()
    assert child.merged_into is None
    assert person_of("anonymous_id", "a1") == child
    assert (child.custom, child.event_count, child.session_count) == before_child
    assert parent.custom == before_parent[0]
    assert parent.event_count == before_parent[1] + 1  # the merging message stays with the parent
    merge.refresh_from_db()
    assert merge.undone_at is not None


def test_merge_dry_run_describes_the_merge_without_writing(ingest, source):
    ingest({"type": "identify", "userId": "u1", "traits": {"plan": "free"}, "timestamp": at(0)})
    ingest({"type": "identify", "anonymousId": "a1", "traits": {"plan": "pro"}, "timestamp": at(1)})
    dry = ingest_dry_run(
        source=source, message={"type": "track", "userId": "u1", "anonymousId": "a1", "event": "X"}
    )
    assert dry.action == "merge"
    assert "would merge" in dry.summary
    plan = {a.key: (a.parent_value, a.result) for a in dry.preview.attributes}
    assert plan["plan"] == ("free", "pro")
    assert Merge.objects.count() == 0


def test_manual_merge_ignores_limits_and_can_be_undone(ingest):
    ingest({"type": "identify", "userId": "u1"}, {"type": "identify", "userId": "u2"})
    merges = people_merge_manual(people=[person_of("user_id", "u2"), person_of("user_id", "u1")])
    assert len(merges) == 1 and merges[0].reason == "manual"
    assert person_of("user_id", "u2") == person_of("user_id", "u1")
    merge_undo(merge=merges[0])
    assert person_of("user_id", "u2") != person_of("user_id", "u1")


def test_alias_links_previous_id_to_user_id(ingest):
    ingest({"type": "track", "anonymousId": "anon-9", "event": "Viewed"})
    ingest({"type": "alias", "previousId": "anon-9", "userId": "user-123"})
    assert person_of("anonymous_id", "anon-9") == person_of("user_id", "user-123")


def test_update_only_source_drops_unknown_people_and_read_only_writes_nothing(ingest, make_source):
    # given
    update_only = make_source("CRM", protection="update_only").source
    read_only = make_source("Partner", protection="read_only").source
    ingest({"type": "identify", "userId": "known", "traits": {"plan": "free"}})
    # when
    r1 = ingest(
        {"type": "identify", "userId": "stranger", "traits": {"plan": "x"}},
        {"type": "identify", "userId": "known", "traits": {"plan": "gold"}},
        src=update_only,
    )
    r2 = ingest(
        {"type": "identify", "userId": "known", "anonymousId": "new-device", "traits": {"plan": "ro"}},
        {"type": "track", "userId": "nobody", "event": "X"},
        src=read_only,
    )
    # then
    assert (r1.dropped, r1.accepted) == (1, 1)
    assert not Identity.objects.filter(value="stranger").exists()
    assert (r2.dropped, r2.accepted) == (1, 1)
    assert not Identity.objects.filter(value="new-device").exists()
    assert person_of("user_id", "known").custom["plan"] == "gold"


def test_suppressed_identifiers_are_dropped(ingest):
    identifier_suppress(type_key="email", value="Gone@Example.com")
    result = ingest({"type": "identify", "userId": "u1", "traits": {"email": "gone@example.com"}})
    assert result.suppressed == 1 and result.body() == {"success": True}
    assert not Person.objects.exists()
    assert SuppressedIdentifier.objects.count() == 1


def test_system_attributes_sessions_and_first_seen(ingest):
    ingest(
        *[{"type": "track", "userId": "u1", "event": "E", "timestamp": at(m)} for m in (0, 10, 20, 60, 65)]
    )
    ingest({"type": "track", "userId": "u1", "event": "E", "timestamp": at(200)})
    person = person_of("user_id", "u1")
    assert person.event_count == 6
    assert person.session_count == 3  # 0-20, 60-65, 200
    assert person.first_seen_at == T0
    assert person.last_activity_at == T0 + timedelta(minutes=200)


def test_contact_events_record_last_contacted(ingest, source):
    EventDefinition.objects.create(name="Email Sent", is_contact=True)
    ingest({"type": "track", "userId": "u1", "event": "Email Sent", "timestamp": at(0)})
    person = person_of("user_id", "u1")
    assert person.last_contacted_at == T0
    assert PersonChannelContact.objects.get(person=person).channel == source.channel


def test_identity_lookup_uses_a_constant_number_of_queries(ingest):
    # given: half the people of each batch exist already
    def batch(n, offset, prefix):
        return [
            {
                "type": "track",
                "userId": f"u{offset + i}",
                "anonymousId": f"a{offset + i}",
                "event": "E",
                "messageId": f"{prefix}{offset + i}",
            }
            for i in range(n)
        ]

    ingest(*batch(5, 0, "x"), *batch(300, 5000, "x"))
    # when
    with CaptureQueriesContext(connection) as small:
        ingest(*batch(5, 100, "m"), *batch(5, 0, "m"))
    with CaptureQueriesContext(connection) as large:
        ingest(*batch(300, 1000, "m"), *batch(300, 5000, "m"))

    # then: the same statements whatever the batch size (bookkeeping after commit aside); on SQLite,
    # big INSERTs are split by its parameter limit, so only reads are compared there
    def statements(ctx, reads_only):
        sqls = [q["sql"] for q in ctx.captured_queries if "seenundefined" not in q["sql"]]
        return [sql.split(" ")[0] for sql in sqls if not reads_only or sql.startswith("SELECT")]

    reads_only = connection.vendor != "postgresql"
    assert statements(large, reads_only) == statements(small, reads_only)
