"""Last-contacted operators at the day boundaries (a day is 24 hours back from now)."""

from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from people.lastcontacted import DAY, contact_matches
from people.models import OrganizationSettings, Person
from people.selectors import organization
from people.services import contact_record

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)

CASES = [
    # (contacted this long before now, operator, N, matches)
    (DAY - S, "exactly", 0, True),  # under 24 h is 0 days ago
    (DAY, "exactly", 0, False),
    (DAY, "exactly", 1, True),  # exactly 24 h is 1 day ago
    (2 * DAY - S, "exactly", 1, True),
    (2 * DAY, "exactly", 1, False),
    (2 * DAY, "more_than", 1, True),
    (2 * DAY - S, "more_than", 1, False),
    (DAY - S, "less_than", 1, True),
    (DAY, "less_than", 1, False),
    (7 * DAY + S, "more_than", 7, False),  # 7 days ago is not more than 7
    (8 * DAY, "more_than", 7, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("ago", "op", "n", "expected"), CASES)
def test_day_operators_in_sql_and_python(make_person, ago, op, n, expected):
    # given
    person = make_person(last_contacted_at=NOW - ago)
    # when
    in_sql = Person.objects.filter(pk=person.pk).last_contacted(op, n, now=NOW).exists()
    in_python = contact_matches(NOW - ago, op, n, now=NOW, tz=UTC)
    # then
    assert in_sql is expected
    assert in_python is expected


@pytest.mark.django_db
def test_before_and_after_are_strict(make_person):
    at = NOW - DAY
    person = make_person(last_contacted_at=at)
    qs = Person.objects.filter(pk=person.pk)
    assert not qs.last_contacted("before", at, now=NOW).exists()
    assert not qs.last_contacted("after", at, now=NOW).exists()
    assert qs.last_contacted("before", at + S, now=NOW).exists()
    assert qs.last_contacted("after", at - S, now=NOW).exists()


@pytest.mark.django_db
def test_on_a_date_uses_the_organization_timezone(make_person):
    # given an organization in Seoul (UTC+9) and a contact at 20:00 UTC on March 1st = March 2nd in Seoul
    org = organization()
    OrganizationSettings.objects.filter(pk=org.pk).update(timezone="Asia/Seoul")
    person = make_person(last_contacted_at=datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    qs = Person.objects.filter(pk=person.pk)
    # then
    assert qs.last_contacted("on", date(2026, 3, 2), now=NOW).exists()
    assert not qs.last_contacted("on", date(2026, 3, 1), now=NOW).exists()


@pytest.mark.django_db
def test_unknown_overall_and_per_channel(make_person, make_channel):
    email, sms = make_channel("email"), make_channel("sms")
    person = make_person()
    qs = Person.objects.filter(pk=person.pk)
    assert qs.last_contacted("unknown").exists()
    contact_record(person=person, channel=email, at=NOW)
    assert not qs.last_contacted("unknown").exists()
    assert not qs.last_contacted("unknown", channel_id=email.pk).exists()
    assert qs.last_contacted("unknown", channel_id=sms.pk).exists()
    assert qs.last_contacted("exactly", 0, channel_id=email.pk, now=NOW + timedelta(hours=1)).exists()


@pytest.mark.django_db
def test_contact_time_only_moves_forward(make_person, make_channel):
    email = make_channel("email")
    person = make_person()
    contact_record(person=person, channel=email, at=NOW)
    contact_record(person=person, channel=email, at=NOW - DAY)  # a late, older contact
    person.refresh_from_db()
    assert person.last_contacted_at == NOW
    assert person.channel_contacts.get().last_contacted_at == NOW


@pytest.mark.django_db
def test_many_contacts_in_one_write_keep_each_persons_latest(
    make_person, make_channel, django_assert_num_queries, django_capture_on_commit_callbacks, settings
):
    # given: Ada contacted on email yesterday; Bob never; Cy contacted on email in the future
    from people.models import PersonChannelContact
    from people.services import contacts_record

    email, sms = make_channel("email"), make_channel("sms")
    ada, bob = make_person(last_contacted_at=NOW - DAY), make_person()
    cy = make_person(last_contacted_at=NOW + DAY)
    PersonChannelContact.objects.create(person=ada, channel=email, last_contacted_at=NOW - DAY)
    PersonChannelContact.objects.create(person=cy, channel=email, last_contacted_at=NOW + DAY)
    settings.ATTUNE_PERSON_CHANGED_TASKS = ["tests.people.test_last_contacted.changed"]
    changed.calls = []
    # when: Ada twice on email (the later wins) and once overall, Bob on SMS, Cy on email (older)
    # (on PostgreSQL one prepared statement: the contacts and the record of the people whose refreshes
    # are pending; SQLite keeps the ORM's path)
    counted = django_assert_num_queries(1) if connection.vendor == "postgresql" else nullcontext()
    with django_capture_on_commit_callbacks(execute=True), counted:
        stored = contacts_record(
            contacts=[
                (ada.pk, email.pk, NOW - DAY / 2),
                (ada.pk, email.pk, NOW),
                (ada.pk, None, NOW - DAY / 4),
                (bob.pk, sms.pk, NOW),
                (cy.pk, email.pk, NOW),
            ]
        )
    # then: times only moved forward; the stored overall times are returned
    assert stored == {ada.pk: NOW, bob.pk: NOW, cy.pk: NOW + DAY}
    contacts = {(c.person_id, c.channel_id): c.last_contacted_at for c in PersonChannelContact.objects.all()}
    assert contacts == {(ada.pk, email.pk): NOW, (bob.pk, sms.pk): NOW, (cy.pk, email.pk): NOW + DAY}
    # and one notification after commit, for the people whose time moved
    assert changed.calls == [(sorted([ada.pk, bob.pk]), "contact")]


def changed(person_ids, reason, events=None):
    """A stand-in for the higher apps' refresh task (``ATTUNE_PERSON_CHANGED_TASKS``)."""
    changed.calls.append((sorted(person_ids), reason))


@pytest.mark.django_db
def test_contact_record_sets_the_stored_time_on_the_person(make_person, make_channel):
    email = make_channel("email")
    person = make_person()
    contact_record(person=person, channel=email, at=NOW)
    contact_record(person=person, channel=None, at=NOW - DAY)
    assert person.last_contacted_at == NOW


@pytest.mark.django_db
def test_no_contacts_record_nothing_and_run_no_statement(django_assert_num_queries):
    from people.services import contacts_record

    with django_assert_num_queries(0):
        assert contacts_record(contacts=[]) == {}
