"""Suppression locks every identity of the profile, including identities attached later; unsuppression
lifts it (and lifts tombstones) and restores nothing."""

from __future__ import annotations

import pytest

from identity import extensions
from identity.models import IdentifierType, Identity, SuppressedIdentifier
from identity.services import person_merge
from people.models import Event, Person
from privacy import filters
from privacy.models import RequestStatus, Suppression
from tests.privacy.conftest import person_of

pytestmark = pytest.mark.django_db


def suppressed(idents: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The suppression verdict, which the registered filter (one statement on PostgreSQL) gives too."""
    verdict = filters.suppression_filter(idents)
    assert filters.privacy_filter(idents) == verdict
    return verdict


@pytest.fixture
def bea(ingest):
    ingest(
        {
            "type": "identify",
            "userId": "bea-7",
            "anonymousId": "anon-bea",
            "traits": {"email": "bea@example.org"},
            "messageId": "b1",
        }
    )
    return person_of("user_id", "bea-7")


def test_suppression_covers_every_identity_of_the_profile(bea, admin_user, run_request):
    # when: suppressed by one identifier
    request = run_request("suppression", ("email", "BEA@example.org"), user=admin_user)
    # then: all of them are blocked, other people's are not
    assert request.status == RequestStatus.COMPLETED
    assert suppressed(
        {("user_id", "bea-7"), ("anonymous_id", "anon-bea"), ("email", "bea@example.org"), ("user_id", "zed")}
    ) == {
        ("user_id", "bea-7"): "suppressed",
        ("anonymous_id", "anon-bea"): "suppressed",
        ("email", "bea@example.org"): "suppressed",
    }
    # the registry answers the same (what the actions API asks)
    assert extensions.blocked_identifiers({("user_id", "bea-7")}) == {("user_id", "bea-7"): "suppressed"}


def test_identities_attached_later_are_suppressed_too(bea, admin_user, run_request, ingest):
    # given
    run_request("suppression", ("user_id", "bea-7"), user=admin_user)
    ingest({"type": "track", "anonymousId": "tablet-1", "event": "Opened", "messageId": "t1"})
    tablet = person_of("anonymous_id", "tablet-1")
    assert suppressed({("anonymous_id", "tablet-1")}) == {}
    # when: the tablet's profile is merged into the suppressed one
    person_merge(parent=bea, child=tablet, reason="manual")
    # then
    assert suppressed({("anonymous_id", "tablet-1")}) == {("anonymous_id", "tablet-1"): "suppressed"}


def test_a_suppressed_profile_merged_into_an_older_one_stays_suppressed(ingest, admin_user, run_request):
    # given: an older profile, and a newer suppressed one
    ingest({"type": "track", "anonymousId": "old-device", "event": "Opened", "messageId": "o1"})
    ingest({"type": "track", "anonymousId": "new-device", "event": "Opened", "messageId": "n1"})
    older, newer = person_of("anonymous_id", "old-device"), person_of("anonymous_id", "new-device")
    run_request("suppression", ("anonymous_id", "new-device"), user=admin_user)
    # when: the suppressed profile becomes a merged child
    person_merge(parent=older, child=newer, reason="manual")
    # then: its identifiers, now on the parent, are still blocked
    assert suppressed({("anonymous_id", "new-device")}) == {("anonymous_id", "new-device"): "suppressed"}


def test_unsuppression_lifts_it_and_restores_nothing(bea, admin_user, run_request):
    # given
    run_request("suppression", ("user_id", "bea-7"), user=admin_user)
    # when
    request = run_request("unsuppression", ("user_id", "bea-7"), user=admin_user)
    # then
    assert request.status == RequestStatus.COMPLETED
    assert not Suppression.objects.exists()
    assert filters.privacy_filter({("user_id", "bea-7")}) == {}


def test_unsuppression_lifts_a_tombstone(bea, admin_user, run_request):
    # given: the person was erased
    run_request("erasure", ("user_id", "bea-7"), user=admin_user)
    assert filters.tombstone_filter({("email", "bea@example.org")})
    # when
    request = run_request("unsuppression", ("email", "bea@example.org"), user=admin_user)
    # then: that identifier may come back (as a new person); the others stay tombstoned
    assert request.receipt is None and request.status == RequestStatus.COMPLETED
    assert filters.tombstone_filter({("email", "bea@example.org")}) == {}
    assert filters.tombstone_filter({("user_id", "bea-7")}) == {("user_id", "bea-7"): "tombstoned"}
    assert not Person.objects.filter(email="bea@example.org").exists()
    # the registered filter says the same for both
    assert filters.privacy_filter({("user_id", "bea-7"), ("email", "bea@example.org")}) == {
        ("user_id", "bea-7"): "tombstoned"
    }


def test_suppressing_an_unknown_identifier_blocks_it_at_ingestion(admin_user, run_request, ingest):
    # when: nobody has this identifier yet
    run_request("suppression", ("email", "new@example.org"), user=admin_user)
    # then: identity's identifier list drops its messages (answered 200, counted)
    assert SuppressedIdentifier.objects.filter(type=IdentifierType.objects.get(key="email")).count() == 1
    result = ingest(
        {"type": "identify", "userId": "n-1", "traits": {"email": "new@example.org"}, "messageId": "n1"}
    )
    assert (result.accepted, result.suppressed) == (0, 1)
    assert not Identity.objects.filter(value="n-1").exists()


def test_messages_of_a_suppressed_profile_are_dropped_at_ingestion(
    bea, admin_user, run_request, ingest, wired_filters
):
    # given
    run_request("suppression", ("user_id", "bea-7"), user=admin_user)
    events = Event.objects.filter(person=bea).count()
    # when: the other identifier of the profile sends something
    result = ingest({"type": "track", "anonymousId": "anon-bea", "event": "Clicked", "messageId": "b2"})
    # then
    assert result.accepted == 0
    assert result.body() == {"success": True}
    assert Event.objects.filter(person=bea).count() == events


def test_queries_per_batch_do_not_grow_with_its_size(bea, admin_user, run_request, django_assert_num_queries):
    idents = {("anonymous_id", f"a{i}") for i in range(500)} | {("user_id", "bea-7")}
    # Nobody suppressed: one existence probe, nothing else.
    with django_assert_num_queries(1):
        assert filters.suppression_filter(idents) == {}
    run_request("suppression", ("user_id", "bea-7"), user=admin_user)
    with django_assert_num_queries(2):
        assert filters.suppression_filter(idents) == {("user_id", "bea-7"): "suppressed"}
    with django_assert_num_queries(1):
        assert filters.tombstone_filter(idents) == {}
