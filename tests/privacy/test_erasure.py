"""Erasure: every table scanned afterwards holds none of the person's values; merged children go too;
the receipt is signed and holds no personal data; replays are dropped by the tombstones."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from computed.models import ComputedAttribute, ComputedValue
from identity.models import IdentifierType, Identity, InboundBatch, SeenMessage, SuppressedIdentifier
from people import signing
from people.models import Channel, Event, Person, PersonChannelContact, RejectedMessage
from people.services import attribute_definition_create
from privacy import filters, hashing
from privacy.models import AuditEntry, PrivacyRequest, RequestStatus, Tombstone
from tests.privacy.conftest import person_of

pytestmark = pytest.mark.django_db

USER = "u-zq-4471"
EMAIL = "zorabel.quintavalle@example.org"
ANON_PARENT = "anon-zq-parent-93"
ANON_CHILD = "anon-zq-child-57"
TRAITS = {
    "firstName": "Zorabel",
    "lastName": "Quintavalle",
    "email": EMAIL,
    "phone": "+4915112398761",
    "city": "Zqvarnstad",
    "nickname": "zq-nick-8812",
}


def original_messages() -> list[dict]:
    """The SDK messages the person's profile came from (kept to replay them after erasure)."""
    return [
        {
            "type": "identify",
            "userId": USER,
            "anonymousId": ANON_PARENT,
            "traits": TRAITS,
            "messageId": "zq-m1",
        },
        {
            "type": "track",
            "userId": USER,
            "event": "Order Completed",
            "properties": {"coupon": "ZQCOUPON-31", "total": 12.5},
            "messageId": "zq-m2",
        },
        # A second device: its own profile first, merged into the first by the identify below.
        {"type": "track", "anonymousId": ANON_CHILD, "event": "Page Viewed", "messageId": "zq-m3"},
        {"type": "identify", "userId": USER, "anonymousId": ANON_CHILD, "messageId": "zq-m4"},
    ]


def needles() -> list[str]:
    return [USER, EMAIL, ANON_PARENT, ANON_CHILD, *(v for k, v in TRAITS.items()), "ZQCOUPON-31"]


def scan_database(values: list[str]) -> list[str]:
    """Every (table.column) whose text or JSON holds one of ``values``."""
    hits = []
    text_types = ("char", "text", "json", "clob", "varchar")
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                type_name = str(column.type_code).lower()
                if connection.vendor == "postgresql":
                    cursor.execute("SELECT typname FROM pg_type WHERE oid = %s", [column.type_code])
                    type_name = cursor.fetchone()[0]
                if not any(t in type_name for t in text_types):
                    continue
                q = connection.ops.quote_name
                for value in values:
                    for needle in {value, json.dumps(value)[1:-1]}:
                        cursor.execute(
                            f"SELECT COUNT(*) FROM {q(table)} WHERE CAST({q(column.name)} AS TEXT) LIKE %s",
                            [f"%{needle}%"],
                        )
                        if cursor.fetchone()[0]:
                            hits.append(f"{table}.{column.name} ∋ {value}")
    return hits


@pytest.fixture
def person_everywhere(ingest, source, admin_user, run_request):
    """One person (with a merged child) whose values sit in every kind of table, and a bystander."""
    attribute_definition_create(key="nickname", label="Nickname", type="text")
    for message in original_messages():
        ingest(message)
    ingest({"type": "identify", "userId": "bystander-1", "traits": {"firstName": "Berta"}, "messageId": "b1"})
    person = person_of("user_id", USER)
    child = person_of("anonymous_id", ANON_CHILD)
    assert Person.objects.filter(merged_into=person).exists(), "the second device was merged"
    # A quarantined message, a queued batch (with a bystander's message), a suppressed identifier,
    # an admin history row, a computed value, a channel contact and an earlier access request.
    ingest(
        {"type": "track", "userId": USER, "event": "Bad", "timestamp": "not a time", "messageId": "zq-bad"}
    )
    assert RejectedMessage.objects.filter(payload__userId=USER).exists()
    InboundBatch.objects.create(
        source=source,
        received_at=timezone.now(),
        messages=[
            {"type": "track", "userId": USER, "event": "Late", "messageId": "zq-q1"},
            {"type": "track", "userId": "bystander-1", "event": "Late", "messageId": "b-q1"},
        ],
        count=2,
    )
    SuppressedIdentifier.objects.create(type=IdentifierType.objects.get(key="email"), value=EMAIL)
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[person], action_flag=CHANGE, change_message="Changed nickname."
    )
    attribute = ComputedAttribute.objects.create(
        key="lifetime_orders", name="Lifetime orders", kind="formula", output_type="text", state="active"
    )
    ComputedValue.objects.create(attribute=attribute, person=person, text="zq-nick-8812 gold")
    PersonChannelContact.objects.create(
        person=person, channel=Channel.objects.get(key="web"), last_contacted_at=timezone.now()
    )
    earlier = run_request("access", ("email", EMAIL), user=admin_user)
    assert earlier.status == RequestStatus.COMPLETED and EMAIL in json.dumps(earlier.result)
    return person, child


def test_erasure_leaves_no_value_of_the_person_in_any_table(
    person_everywhere, admin_user, run_request, signing_key
):
    # given
    person, child = person_everywhere
    assert scan_database(needles()), "the scan finds the values before erasure"
    # when
    request = run_request("erasure", ("user_id", USER), user=admin_user)
    # then
    assert request.status == RequestStatus.COMPLETED, request.error
    assert scan_database(needles()) == []
    assert not Person.objects.filter(pk__in=[person.pk, child.pk]).exists()
    # the bystander keeps everything, including its message in the shared queued batch
    bystander = person_of("user_id", "bystander-1")
    assert bystander.first_name == "Berta"
    batch = InboundBatch.objects.get()
    assert [m["userId"] for m in batch.messages] == ["bystander-1"] and batch.count == 1
    assert not SeenMessage.objects.filter(message_id__startswith="zq-").exists()
    assert SeenMessage.objects.filter(message_id="b1").exists()


def test_merged_children_are_erased_not_brought_back(person_everywhere, admin_user, run_request):
    # given: the child profile is merged into the parent
    person, child = person_everywhere
    live_before = Person.objects.live().count()
    # when: the subject is named by the child's identifier
    run_request("erasure", ("anonymous_id", ANON_CHILD), user=admin_user)
    # then: neither comes back as a separate profile
    assert Person.objects.live().count() == live_before - 1
    assert not Person.objects.filter(pk=child.pk).exists()
    assert not Identity.objects.filter(value__in=[ANON_CHILD, ANON_PARENT, USER]).exists()


def test_receipt_counts_per_table_is_signed_and_holds_no_personal_data(
    person_everywhere, admin_user, run_request, signing_key
):
    # when
    request = run_request("erasure", ("email", EMAIL), user=admin_user)
    # then
    receipt = request.receipt
    assert receipt["subject_request_id"] == str(request.subject_request_id)
    assert receipt["counts"]["people.Person"] == 2
    assert receipt["counts"]["people.Event"] == 4
    assert receipt["counts"]["identity.Identity"] == 5  # user id, email, phone, two anonymous ids
    assert receipt["counts"]["computed.ComputedValue"] == 1
    assert receipt["counts"]["people.RejectedMessage"] == 1
    assert receipt["tombstones"] == 5
    text = json.dumps(receipt)
    assert not [n for n in needles() if n in text]
    from privacy.services import receipt_bytes

    assert signing.verify(request.receipt_signature, receipt_bytes(receipt), key=signing_key)
    # the request itself no longer holds the identifiers; the audit log has hashes only
    assert request.subject_identities == []
    audit = AuditEntry.objects.filter(request_uuid=request.subject_request_id)
    assert [a.action for a in audit.order_by("at", "pk")] == ["received", "started", "completed"]
    assert hashing.digest("email", EMAIL) in audit.first().subject_hashes
    assert not [n for n in needles() if n in json.dumps(list(audit.values("detail", "subject_hashes")))]


def test_tombstones_drop_every_erased_identifier_and_nothing_else(person_everywhere, admin_user, run_request):
    # given
    run_request("erasure", ("user_id", USER), user=admin_user)
    # when
    verdict = filters.tombstone_filter(
        {("user_id", USER), ("email", EMAIL), ("anonymous_id", ANON_CHILD), ("user_id", "bystander-1")}
    )
    # then
    assert verdict == {
        ("user_id", USER): "tombstoned",
        ("email", EMAIL): "tombstoned",
        ("anonymous_id", ANON_CHILD): "tombstoned",
    }
    assert Tombstone.objects.filter(identifier_type="anonymous_id").count() == 2
    assert not Tombstone.objects.filter(digest__in=[USER, EMAIL]).exists()  # hashes, never values


def test_erasing_an_unknown_subject_completes_and_tombstones_the_identifier(admin_user, run_request):
    request = run_request("erasure", ("email", "Nobody@Example.org"), user=admin_user)
    assert request.status == RequestStatus.COMPLETED
    assert request.receipt["profiles_erased"] == 0
    assert filters.tombstone_filter({("email", "nobody@example.org")}) == {
        ("email", "nobody@example.org"): "tombstoned"
    }


def test_replayed_messages_after_erasure_create_no_profile(
    person_everywhere, admin_user, run_request, ingest, wired_filters
):
    # given
    run_request("erasure", ("user_id", USER), user=admin_user)
    people_before = Person.objects.count()
    # when: the SDK's retry queue sends the same messages again, and with new messageIds
    replay = ingest(*original_messages())
    fresh = ingest(*({**m, "messageId": m["messageId"] + "-again"} for m in original_messages()))
    # then
    assert replay.accepted == fresh.accepted == 0
    assert Person.objects.count() == people_before
    assert not Identity.objects.filter(value__in=[USER, EMAIL, ANON_PARENT, ANON_CHILD]).exists()
    assert not RejectedMessage.objects.filter(payload__userId=USER).exists()  # dropped, not quarantined


def test_a_cancelled_request_is_not_processed(
    admin_user, make_person, ingest, django_capture_on_commit_callbacks
):
    from privacy import services
    from privacy.jobs import process_request  # noqa: F401  (registered kind)

    # given: a pending erasure cancelled before its job runs
    ingest({"type": "identify", "userId": USER, "messageId": "c1"})
    request = services.request_create(kind="erasure", identities=[{"type": "user_id", "value": USER}])
    services.request_cancel(request=request)
    # when: the job runs anyway (delivered late)
    from people.tasks import run_job

    run_job(request.job_id)
    # then
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    assert person_of("user_id", USER) is not None
    assert PrivacyRequest.objects.get(pk=request.pk).job.result == {"skipped": "cancelled"}


def test_events_of_a_person_are_deleted_in_batches(make_person, monkeypatch, admin_user, run_request, ingest):
    from privacy import erasure

    # given: more events than a batch
    monkeypatch.setattr(erasure, "BATCH", 7)
    ingest({"type": "identify", "userId": USER, "messageId": "e0"})
    person = person_of("user_id", USER)
    Event.objects.bulk_create(
        [
            Event(person=person, name="Tick", timestamp=timezone.now(), message_id=f"e{i}")
            for i in range(1, 30)
        ]
    )
    # when
    request = run_request("erasure", ("user_id", USER), user=admin_user)
    # then
    assert request.receipt["counts"]["people.Event"] == 30
    assert request.progress_percent == 100
    assert not Event.objects.filter(person_id=person.pk).exists()


def test_log_entries_of_other_objects_stay(person_everywhere, admin_user, run_request):
    other = person_of("user_id", "bystander-1")
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[other], action_flag=CHANGE, change_message="x"
    )
    run_request("erasure", ("user_id", USER), user=admin_user)
    person_type = ContentType.objects.get_for_model(Person)
    assert list(LogEntry.objects.filter(content_type=person_type).values_list("object_id", flat=True)) == [
        str(other.pk)
    ]


def test_deleting_a_parent_profile_in_the_admin_takes_its_merged_children(
    person_everywhere, client, admin_user
):
    # given
    person, child = person_everywhere
    client.force_login(admin_user)
    # when: an admin deletes the parent profile (not an erasure)
    response = client.post(f"/admin/people/person/{person.pk}/delete/", {"post": "yes"})
    # then: the merged child does not come back as a live profile of its own
    assert response.status_code == 302
    assert not Person.objects.filter(pk=child.pk).exists()
    assert not Person.objects.live().filter(identities__value=ANON_CHILD).exists()
