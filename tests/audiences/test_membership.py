"""Versioned membership: history of entries and exits, atomic switch, failures keep the previous set,
stale refreshes are taken over, real time after commit, merged children and anonymous profiles."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from audiences import membership, selectors, services
from audiences.models import Audience, AudienceMembership, AudienceRefresh, MembershipHistory
from identity.merging import people_merge_manual
from people.models import Person
from people.services import AttributeWrite, person_write_attributes
from tests.audiences.conftest import member_ids

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
GERMANS = {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}

announced: list[dict] = []


def record(**kwargs):
    announced.append(kwargs)


@pytest.fixture(autouse=True)
def _clear():
    announced.clear()


def test_refresh_writes_a_new_version_and_the_history(make_person, known, make_audience):
    # given an active audience with Ann
    ann = known(make_person(first_name="Ann", country="DE"))
    bob = known(make_person(first_name="Bob", country="FR"))
    audience = make_audience("germans", GERMANS, activate=True, now=NOW)
    first_entered = AudienceMembership.objects.get(audience=audience, person=ann).entered_at
    # when Ann leaves and Bob joins (outside real time), then a refresh runs
    type(ann).objects.filter(pk=ann.pk).update(country="FR")
    type(bob).objects.filter(pk=bob.pk).update(country="DE")
    result = membership.refresh(audience.pk, now=NOW + timedelta(hours=1))
    # then
    audience.refresh_from_db()
    assert (result.entered, result.exited, result.member_count) == (1, 1, 1)
    assert audience.version == 2 and audience.member_count == 1
    assert member_ids(audience) == {bob.pk}
    assert AudienceMembership.objects.filter(audience=audience).count() == 1  # old version purged
    history = list(
        MembershipHistory.objects.filter(audience=audience).order_by("id").values_list("person_id", "kind")
    )
    assert history == [(ann.pk, "entered"), (bob.pk, "entered"), (ann.pk, "exited")]
    assert first_entered == NOW
    sizes = list(
        AudienceRefresh.objects.filter(audience=audience)
        .order_by("started_at")
        .values_list("member_count", flat=True)
    )
    assert sizes == [1, 1]
    assert (
        audience.last_refreshed_at == NOW + timedelta(hours=1) and audience.last_refresh_seconds is not None
    )


def test_stayers_keep_their_entry_time(make_person, known, make_audience):
    ann = known(make_person(first_name="Ann", country="DE"))
    audience = make_audience("germans", GERMANS, activate=True, now=NOW)
    membership.refresh(audience.pk, now=NOW + timedelta(days=1))
    assert AudienceMembership.objects.get(audience=audience, person=ann).entered_at == NOW
    assert MembershipHistory.objects.filter(audience=audience).count() == 1


def test_a_failed_refresh_keeps_the_previous_membership(make_person, known, make_audience, monkeypatch):
    # given
    ann = known(make_person(first_name="Ann", country="DE"))
    audience = make_audience("germans", GERMANS, activate=True, now=NOW)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("audiences.definition.members_sql", broken)
    # when
    result = membership.refresh(audience.pk, now=NOW + timedelta(hours=1))
    # then
    audience.refresh_from_db()
    assert result.error == "RuntimeError: the database went away"
    assert audience.error_count == 1 and audience.last_error == "RuntimeError: the database went away"
    assert audience.version == 1 and member_ids(audience) == {ann.pk}
    assert audience.refresh_started_at is None
    assert AudienceRefresh.objects.filter(audience=audience).exclude(error="").count() == 1


def test_a_running_refresh_is_not_run_twice_but_a_stale_one_is_taken_over(make_person, known, make_audience):
    known(make_person(first_name="Ann", country="DE"))
    audience = make_audience("germans", GERMANS, activate=True, now=NOW)
    Audience.objects.filter(pk=audience.pk).update(refresh_started_at=NOW)
    # a refresh while another (recent) one runs is skipped
    skipped = membership.refresh(audience.pk, now=NOW + timedelta(minutes=5))
    assert skipped.ran is False and skipped.error == "another refresh is running"
    # past the timeout, the next one takes over
    taken = membership.refresh(audience.pk, now=NOW + membership.REFRESH_TIMEOUT + timedelta(minutes=1))
    assert taken.ran is True and taken.error == ""
    assert Audience.objects.get(pk=audience.pk).version == 2


@override_settings(ATTUNE_MEMBERSHIP_CHANGED_TASKS=["tests.audiences.test_membership.record"])
def test_entries_and_exits_are_announced_after_commit(
    make_person, known, make_audience, django_capture_on_commit_callbacks
):
    ann = known(make_person(first_name="Ann", country="DE"))
    with django_capture_on_commit_callbacks(execute=True):
        audience = make_audience("germans", GERMANS, activate=True, now=NOW)
    entered = MembershipHistory.objects.get(audience=audience, person=ann)
    assert announced == [
        {"audience_id": audience.pk, "first_history_id": entered.pk, "last_history_id": entered.pk}
    ]
    # real time: Ann moves away
    announced.clear()
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=ann, writes=[AttributeWrite("country", "FR")])
    exited = MembershipHistory.objects.get(audience=audience, person=ann, kind="exited")
    assert announced == [
        {"audience_id": audience.pk, "first_history_id": exited.pk, "last_history_id": exited.pk}
    ]


def test_real_time_attribute_write_enters_and_exits(
    make_person, known, make_audience, django_capture_on_commit_callbacks
):
    # given
    ann = known(make_person(first_name="Ann", country="FR"))
    audience = make_audience("germans", GERMANS, activate=True)
    assert member_ids(audience) == set()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=ann, writes=[AttributeWrite("country", "DE")])
    # then
    assert member_ids(audience) == {ann.pk}
    assert Audience.objects.get(pk=audience.pk).member_count == 1
    assert selectors.member_audience_ids(person_id=ann.pk) == {audience.pk}
    assert selectors.is_member(person_id=ann.pk, audience_ids=[audience.pk, 999]) is True
    assert selectors.is_member(person_id=ann.pk, audience_ids=[]) is False
    traits = selectors.person_traits(ann)
    assert traits["germans"]["value"] is True
    # and back out
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=ann, writes=[AttributeWrite("country", "IT")])
    assert member_ids(audience) == set()
    assert selectors.person_traits(ann)["germans"]["value"] is False
    assert Audience.objects.get(pk=audience.pk).member_count == 0


def test_real_time_orders_audiences_after_the_ones_they_use(
    make_person, known, make_audience, django_capture_on_commit_callbacks
):
    ann = known(make_person(first_name="Ann", country="FR"))
    make_audience("germans", GERMANS, activate=True)
    nested = make_audience(
        "nested",
        {"condition": {"attribute": "audience:germans", "op": "equals", "value": True}},
        activate=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=ann, writes=[AttributeWrite("country", "DE")])
    assert member_ids(nested) == {ann.pk}


def test_a_merged_child_is_never_a_member(
    make_person, known, make_audience, django_capture_on_commit_callbacks
):
    # given two German profiles, both members
    parent = known(make_person(first_name="Ann", country="DE"))
    child = known(make_person(first_name="Ann2", country="DE"))
    audience = make_audience("germans", GERMANS, activate=True)
    assert member_ids(audience) == {parent.pk, child.pk}
    # when they are merged
    with django_capture_on_commit_callbacks(execute=True):
        people_merge_manual(people=[parent, child])
    # then only the parent stays
    assert member_ids(audience) == {parent.pk}
    assert selectors.member_audience_ids(person_id=child.pk) == set()
    membership.refresh(audience.pk)
    assert member_ids(audience) == {parent.pk}


def test_anonymous_profiles_only_with_include_anonymous(make_person, known, anonymous, make_audience):
    ann = known(make_person(first_name="Ann", country="DE"))
    anon = anonymous(make_person(first_name="Anon", country="DE"))
    bare = make_person(first_name="Bare", country="DE")  # no identifier at all
    strict = make_audience("strict", GERMANS, activate=True)
    loose = make_audience("loose", GERMANS, include_anonymous=True, activate=True)
    assert member_ids(strict) == {ann.pk}
    assert member_ids(loose) == {ann.pk, anon.pk, bare.pk}


def test_sliding_audiences_are_re_evaluated_by_the_schedule(make_person, make_event, known, make_audience):
    from django_q.models import Schedule

    from audiences import tasks

    ann = known(make_person(first_name="Ann"))
    make_event(ann, "Order Completed", at=datetime.now(UTC) - timedelta(days=29, hours=23, minutes=59))
    recent = make_audience(
        "recent",
        {"condition": {"event": "Order Completed", "window": {"type": "within", "value": 30}}},
        activate=True,
    )
    make_audience("static", GERMANS, activate=True)
    assert member_ids(recent) == {ann.pk}
    # the window slides past the order
    assert services.reevaluate_sliding(now=datetime.now(UTC) + timedelta(minutes=5)) == ["recent"]
    assert member_ids(recent) == set()
    # the migration's schedule
    assert Schedule.objects.get(func="audiences.tasks.reevaluate_windows").schedule_type == Schedule.HOURLY
    assert tasks.reevaluate_windows() == ["recent"]


def test_tracked_events_update_membership(
    make_person, make_event, known, make_audience, make_source, django_capture_on_commit_callbacks
):
    from identity.services import ingest_batch

    source = make_source("Web").source
    buyers = make_audience("buyers", {"condition": {"event": "Order Completed"}}, activate=True)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch(
            source=source,
            messages=[{"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "m1"}],
        )
    members = member_ids(buyers)
    assert len(members) == 1
    assert selectors.person_audiences(person_id=next(iter(members)))[0]["key"] == "buyers"


def test_a_computed_attribute_used_by_an_audience_cannot_be_deleted(make_person, known, make_audience):
    from django.core.exceptions import ValidationError

    from computed import services as computed_services

    orders = computed_services.activate(
        computed_services.computed_attribute_create(
            key="orders",
            name="Orders",
            kind="aggregate",
            definition={"function": "count", "event": "Order Completed"},
        )
    )
    make_audience("buyers", {"condition": {"attribute": "orders", "op": "gte", "value": 1}})
    with pytest.raises(ValidationError) as caught:
        computed_services.computed_attribute_delete(attribute=orders)
    assert "audience 'buyers' (draft)" in caught.value.messages[0]


def test_audiences_reading_computed_attributes_are_refreshed_on_schedule(make_audience):
    from computed import services as computed_services

    computed_services.activate(
        computed_services.computed_attribute_create(
            key="orders",
            name="Orders",
            kind="aggregate",
            definition={"function": "count", "event": "Order Completed"},
        )
    )
    reads_computed = make_audience("buyers", {"condition": {"attribute": "orders", "op": "gte", "value": 1}})
    static = make_audience("germans", GERMANS)
    assert (reads_computed.sliding, static.sliding) == (True, False)


def test_membership_traits_in_one_query(make_person, known, make_audience, django_assert_num_queries):
    # given: Ann moves from Germany to France and back; nobody is in Finland
    ann = known(make_person(first_name="Ann", country="DE"))
    for key, country in (("germans", "DE"), ("french", "FR"), ("finns", "FI")):
        condition = {"attribute": "country", "op": "equals", "value": country}
        make_audience(key, {"condition": condition}, activate=True, now=NOW)
    for hours, country in ((1, "FR"), (2, "DE")):
        type(ann).objects.filter(pk=ann.pk).update(country=country)
        membership.refresh_people([ann.pk], now=NOW + timedelta(hours=hours))
    # when
    with django_assert_num_queries(1):
        traits = selectors.person_traits(ann)
    # then: in germans again (entered at 2 h), out of french since 2 h, nothing about finns
    assert traits == {
        "germans": {"value": True, "updated_at": NOW + timedelta(hours=2)},
        "french": {"value": False, "updated_at": NOW + timedelta(hours=2)},
    }


@pytest.mark.postgres
def test_a_refresh_that_moves_many_people_refreshes_the_planner_statistics(
    make_person, known, make_audience, monkeypatch
):
    from django.db import connection

    def estimated_rows() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [membership.M])
            return cursor.fetchone()[0]

    # given a threshold of three moves and an audience of two people
    monkeypatch.setattr(membership, "ANALYZE_AFTER_MOVES", 3)
    for name in ("Ann", "Bob"):
        known(make_person(first_name=name, country="DE"))
    audience = make_audience("germans", GERMANS, activate=True, now=NOW)
    before = estimated_rows()
    # when a refresh moves two people (two more enter), nothing is analyzed
    for name in ("Cid", "Dan"):
        known(make_person(first_name=name, country="DE"))
    membership.refresh(audience.pk, now=NOW + timedelta(hours=1))
    assert estimated_rows() == before
    # when a refresh moves three (three more enter), the membership table is analyzed: it counts 7 rows
    for name in ("Eve", "Fay", "Gus"):
        known(make_person(first_name=name, country="DE"))
    result = membership.refresh(audience.pk, now=NOW + timedelta(hours=2))
    assert (result.entered, result.member_count) == (3, 7)
    assert estimated_rows() == 7


def test_new_events_evaluate_only_the_audiences_they_can_move(make_audience):
    from computed import services as computed

    # given audiences on an attribute, an event, the event counter, a computed attribute, and one on
    # the event's audience
    spent = {"function": "sum", "event": "Order Completed", "property": "amount"}
    computed.activate(
        computed.computed_attribute_create(key="spent", name="Spent", kind="aggregate", definition=spent)
    )
    every = [
        make_audience("germans", GERMANS, activate=True),
        make_audience("buyers", {"condition": {"event": "Order Completed"}}, activate=True),
        make_audience(
            "busy", {"condition": {"attribute": "event_count", "op": "gte", "value": 5}}, activate=True
        ),
        make_audience(
            "spenders", {"condition": {"attribute": "spent", "op": "gt", "value": 100}}, activate=True
        ),
        make_audience(
            "buyers_again",
            {"condition": {"attribute": "audience:buyers", "op": "equals", "value": True}},
            activate=True,
        ),
    ]

    def moved(*names):
        return {a.key for a in membership.moved_by_events(every, names)}

    # then an event moves the audiences naming it or what it moves, never the attribute-only one
    assert moved("Order Completed") == {"buyers", "buyers_again", "busy", "spenders"}
    assert moved("Page Viewed") == {"busy", "spenders"}


def test_a_contact_evaluates_only_the_audiences_it_can_move(make_audience):
    from computed import services as computed

    # given audiences on last contacted (overall, on a channel, the attribute), on a computed
    # attribute, on an attribute, on an event, and one on a contact audience
    spent = {"function": "sum", "event": "Order Completed", "property": "amount"}
    computed.activate(
        computed.computed_attribute_create(key="spent", name="Spent", kind="aggregate", definition=spent)
    )
    every = [
        make_audience("never", {"condition": {"last_contacted": {"op": "unknown"}}}, activate=True),
        make_audience(
            "mailed",
            {"condition": {"last_contacted": {"op": "less_than", "value": 7, "channel": "email"}}},
            activate=True,
        ),
        make_audience(
            "recent",
            {"condition": {"attribute": "last_contacted_at", "op": "within_last_days", "value": 3}},
            activate=True,
        ),
        make_audience(
            "spenders", {"condition": {"attribute": "spent", "op": "gt", "value": 100}}, activate=True
        ),
        make_audience("germans", GERMANS, activate=True),
        make_audience("buyers", {"condition": {"event": "Order Completed"}}, activate=True),
        make_audience(
            "never_again",
            {"condition": {"attribute": "audience:never", "op": "equals", "value": True}},
            activate=True,
        ),
    ]
    # then a contact moves those on last contacted, on computed attributes and what names them
    assert {a.key for a in membership.moved_by_contact(every)} == {
        "never",
        "mailed",
        "recent",
        "spenders",
        "never_again",
    }


def test_a_contact_refresh_leaves_audiences_it_cannot_move(make_person, known, make_audience):
    # given Ann, never contacted, in an audience of the never contacted and in the Germans
    ann = known(make_person(first_name="Ann", country="DE"))
    never = make_audience(
        "never", {"condition": {"last_contacted": {"op": "unknown"}}}, activate=True, now=NOW
    )
    germans = make_audience("germans", GERMANS, activate=True, now=NOW)
    # and Ann contacted and moved to France, only the contact notified
    type(ann).objects.filter(pk=ann.pk).update(last_contacted_at=NOW, country="FR")
    # when the real-time refresh for a contact runs
    membership.refresh_people([ann.pk], reason="contact", now=NOW + timedelta(hours=1))
    # then she left the audience on last contacted; the Germans were not evaluated
    assert member_ids(never) == set()
    assert member_ids(germans) == {ann.pk}


def test_a_tracked_event_no_audience_reads_evaluates_none(
    make_person, known, make_audience, make_source, django_capture_on_commit_callbacks
):
    from identity.services import ingest_batch

    source = make_source("Web").source
    # given a German known by an identify, in the attribute audience
    germans = make_audience("germans", GERMANS, activate=True)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch(
            source=source,
            messages=[{"type": "identify", "userId": "u1", "traits": {"country": "DE"}, "messageId": "m1"}],
        )
    [member] = member_ids(germans)
    # and then moved away behind the refreshes' back (no notification)
    Person.objects.filter(pk=member).update(country="FR")
    # when only an event comes, which the audience does not read
    with django_capture_on_commit_callbacks(execute=True):
        viewed = {"type": "track", "userId": "u1", "event": "Page Viewed", "messageId": "m2"}
        ingest_batch(source=source, messages=[viewed])
    # then the audience was not evaluated for it (still a member), until something it reads changes
    assert member_ids(germans) == {member}
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch(
            source=source,
            messages=[{"type": "identify", "userId": "u1", "traits": {"city": "Lyon"}, "messageId": "m3"}],
        )
    assert member_ids(germans) == set()
