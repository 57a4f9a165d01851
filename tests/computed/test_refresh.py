"""Incremental refresh after changes (dependency order) and the daily re-evaluation of windows."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from computed import engine, services, tasks
from computed.models import ComputedValue
from computed.selectors import person_values
from people.models import Event
from people.services import AttributeWrite, notify_people_changed, person_write_attributes


def test_new_event_refreshes_the_person_in_dependency_order(
    make_person, make_event, make_computed, django_capture_on_commit_callbacks
):
    # given an aggregate, a formula over it and a score over the formula, all active
    person = make_person()
    other = make_person()
    make_event(person, "Order Completed", properties={"amount": 10})
    make_event(other, "Order Completed", properties={"amount": 99})
    revenue = make_computed(
        "revenue",
        "aggregate",
        {"function": "sum", "event": "Order Completed", "property": "amount"},
        name="Revenue",
        activate=True,
    )
    vat = make_computed("revenue_net", "formula", {"formula": "revenue / 1.25"}, name="Net", activate=True)
    tier = make_computed(
        "tier",
        "score",
        {"rules": [{"condition": {"attribute": "revenue_net", "op": "gte", "value": 20}, "points": 1}]},
        name="Tier",
        activate=True,
    )
    assert engine.dependency_order([tier, vat, revenue]) == [revenue, vat, tier]
    assert person_values(person_id=person.pk)["tier"]["value"] == 0
    other_value = ComputedValue.objects.get(attribute=revenue, person=other)
    # when a new event is written and people are notified (after commit → the task)
    with django_capture_on_commit_callbacks(execute=True):
        make_event(person, "Order Completed", properties={"amount": 20})
        notify_people_changed([person.pk], reason="events")
    # then that person's aggregate, formula and score all follow, in one refresh
    values = person_values(person_id=person.pk)
    assert values["revenue"]["value"] == 30.0
    assert values["revenue_net"]["value"] == 24.0
    assert values["tier"]["value"] == 1
    # and nobody else was touched
    assert ComputedValue.objects.get(attribute=revenue, person=other).computed_at == other_value.computed_at


def test_attribute_change_refreshes_formulas(make_person, make_computed, django_capture_on_commit_callbacks):
    from people.models import AttributeDefinition

    AttributeDefinition.objects.create(key="sent", label="Sent", type="integer")
    person = make_person(first_name="Ann")
    formula = make_computed(
        "greeting", "formula", {"formula": "concat('Hi ', first_name)"}, name="Greeting", activate=True
    )
    assert person_values(person_id=person.pk)["greeting"]["value"] == "Hi Ann"
    # when the attribute changes through the write service
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=person, writes=[AttributeWrite("first_name", "Anna")])
    # then the formula follows; when it becomes empty, the value goes
    assert person_values(person_id=person.pk)["greeting"]["value"] == "Hi Anna"
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=person, writes=[AttributeWrite("first_name", op="unset")])
    assert person_values(person_id=person.pk)["greeting"]["value"] is None
    assert not ComputedValue.objects.filter(attribute=formula).exists()


def test_refresh_task_recomputes_and_is_idempotent(make_person, make_event, make_computed):
    # given an active count of 1, then a second order stored without notifying anyone
    person = make_person()
    make_event(person, "Order Completed")
    make_computed(
        "orders", "aggregate", {"function": "count", "event": "Order Completed"}, name="Orders", activate=True
    )
    make_event(person, "Order Completed")
    assert person_values(person_id=person.pk)["orders"]["value"] == 1
    # when the refresh task runs
    tasks.refresh_people([person.pk], "events")
    after_first = ComputedValue.objects.get(person=person)
    # then the value follows the events
    assert person_values(person_id=person.pk)["orders"]["value"] == 2
    # and running it again changes nothing (the unchanged row is not even rewritten)
    tasks.refresh_people([person.pk], "events")
    after_second = ComputedValue.objects.get(person=person)
    assert (after_second.number, after_second.computed_at) == (2, after_first.computed_at)


def test_daily_reevaluation_ages_values_out_of_windows(make_person, make_event, make_computed):
    # given a 7-day count, a lifetime count and a formula over the window
    person = make_person()
    now = timezone.now()
    make_event(person, "Order Completed", at=now - timedelta(days=3))
    recent = make_computed(
        "recent_orders",
        "aggregate",
        {
            "function": "count",
            "event": "Order Completed",
            "period": {"type": "last_days", "value": 7},
        },
        name="Recent",
        activate=True,
    )
    make_computed(
        "orders", "aggregate", {"function": "count", "event": "Order Completed"}, name="All", activate=True
    )
    make_computed("recent_flag", "formula", {"formula": "recent_orders > 0"}, name="Flag", activate=True)
    assert person_values(person_id=person.pk)["recent_orders"]["value"] == 1
    # when the daily re-evaluation runs ten days later
    reevaluated = services.reevaluate_sliding(now=now + timedelta(days=10))
    # then windowed values (and what depends on them) aged out; lifetime ones were left alone
    assert reevaluated == ["recent_flag", "recent_orders"]
    values = person_values(person_id=person.pk)
    assert values["recent_orders"]["value"] == 0
    assert values["recent_flag"]["value"] is False
    assert values["orders"]["value"] == 1
    assert not ComputedValue.objects.filter(attribute=recent).exists()


def test_daily_schedule_reevaluates_what_time_can_change(make_person, make_event, make_computed):
    # given the migrations, the daily django-q2 schedule is there
    schedule = Schedule.objects.get(func="computed.tasks.reevaluate_windows")
    assert schedule.schedule_type == Schedule.DAILY
    # given a windowed count, a formula over it and a lifetime count
    person = make_person()
    make_event(person, "Order Completed", at=timezone.now() - timedelta(days=2))
    count = {"function": "count", "event": "Order Completed"}
    recent = make_computed(
        "recent", "aggregate", {**count, "period": {"type": "last_days", "value": 7}}, activate=True
    )
    make_computed("recent_twice", "formula", {"formula": "recent * 2"}, activate=True)
    lifetime = make_computed("orders", "aggregate", count, activate=True)
    # and the order moves out of the window (as if a week had passed)
    Event.objects.filter(person=person).update(timestamp=timezone.now() - timedelta(days=30))
    # when the scheduled task runs
    reevaluated = tasks.reevaluate_windows()
    # then the windowed attribute and what depends on it were recomputed, the lifetime one was not
    assert reevaluated == ["recent", "recent_twice"]
    values = person_values(person_id=person.pk)
    assert (values["recent"]["value"], values["recent_twice"]["value"], values["orders"]["value"]) == (
        0,
        0,
        1,
    )
    recent.refresh_from_db()
    lifetime.refresh_from_db()
    assert recent.last_computed_at > lifetime.last_computed_at


def test_refresh_of_a_person_without_active_attributes_is_free(make_person, django_assert_num_queries):
    person = make_person()
    with django_assert_num_queries(1):
        services.refresh_person(person.pk)


def test_new_events_refresh_only_the_attributes_that_read_them(make_computed):
    from computed.plans import moved_by_events

    # given attributes over two events, over the event counter, over attributes, and over those
    orders = make_computed(
        "orders", "aggregate", {"function": "count", "event": "Order Completed"}, activate=True
    )
    views = make_computed("views", "aggregate", {"function": "count", "event": "Page Viewed"}, activate=True)
    busy = make_computed(
        "busy",
        "score",
        {"rules": [{"condition": {"attribute": "event_count", "op": "gte", "value": 2}, "points": 1}]},
    )
    doubled = make_computed("doubled", "formula", {"formula": "orders * 2"})
    greeting = make_computed("greeting", "formula", {"formula": "concat('Hi ', first_name)"})
    every = [orders, views, busy, doubled, greeting]

    def moved(*names):
        return {a.key for a in moved_by_events(every, names)}

    # then each event moves what reads it, what reads that, and what reads the counters
    assert moved("Order Completed") == {"orders", "doubled", "busy"}
    assert moved("Page Viewed") == {"views", "busy"}
    assert moved("Signed Up") == {"busy"}
    assert moved("Order Completed", "Page Viewed") == {"orders", "views", "doubled", "busy"}


def test_a_tracked_event_leaves_attributes_that_do_not_read_it_alone(
    client, make_source, make_computed, django_capture_on_commit_callbacks
):
    import base64
    import json

    from people.models import Person

    creds = make_source("Web")
    auth = "Basic " + base64.b64encode(f"{creds.write_key}:".encode()).decode()

    def send(**message):
        body = json.dumps({"userId": "u1", **message})
        path = "/v1/identify" if message.get("type") == "identify" else "/v1/track"
        with django_capture_on_commit_callbacks(execute=True):  # the refreshes run after commit
            response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=auth)
        assert response.status_code == 200

    make_computed("orders", "aggregate", {"function": "count", "event": "Order Completed"}, activate=True)
    make_computed("greeting", "formula", {"formula": "concat('Hi ', first_name)"}, activate=True)
    # given a person known by an identify (refreshed in full: "Hi Ann")
    send(type="identify", traits={"firstName": "Ann"}, messageId="m1")
    person = Person.objects.get(first_name="Ann")
    assert {k: v["value"] for k, v in person_values(person_id=person.pk).items()} == {
        "orders": 0,
        "greeting": "Hi Ann",
    }
    # and the name changed behind the refreshes' back (no notification: the greeting is stale)
    Person.objects.filter(pk=person.pk).update(first_name="Bo")
    # when events come that the greeting does not read, then one the orders read
    send(type="track", event="Page Viewed", messageId="m2")
    assert person_values(person_id=person.pk)["greeting"]["value"] == "Hi Ann"  # left alone
    send(type="track", event="Order Completed", messageId="m3")
    # then only the orders followed
    assert {k: v["value"] for k, v in person_values(person_id=person.pk).items()} == {
        "orders": 1,
        "greeting": "Hi Ann",
    }


def test_a_contact_refreshes_only_the_attributes_that_read_last_contacted(
    make_person, make_channel, make_computed, django_capture_on_commit_callbacks
):
    from people.models import Person
    from people.services import contact_record

    # given a score over last contacted, a formula over that score and a score over country
    email = make_channel("email")
    person = make_person(country="DE")
    never = {"condition": {"last_contacted": {"op": "unknown"}}, "points": -1}
    make_computed("reach", "score", {"rules": [never]}, activate=True)
    make_computed("reach_doubled", "formula", {"formula": "reach * 2"}, activate=True)
    french = {"condition": {"attribute": "country", "op": "equals", "value": "FR"}, "points": 1}
    make_computed("french", "score", {"rules": [french]}, activate=True)
    assert {k: v["value"] for k, v in person_values(person_id=person.pk).items()} == {
        "reach": -1,
        "reach_doubled": -2,
        "french": 0,
    }
    # and the country changed without notifying anyone (the score over it is stale)
    Person.objects.filter(pk=person.pk).update(country="FR")
    # when a contact is recorded (and the transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        contact_record(person=person, channel=email, at=timezone.now())
    # then the score over last contacted and the formula reading it follow; the one over country
    # was not recomputed
    assert {k: v["value"] for k, v in person_values(person_id=person.pk).items()} == {
        "reach": 0,
        "reach_doubled": 0,
        "french": 0,
    }


def test_a_contact_moves_the_attributes_reading_last_contacted_and_their_readers(make_computed):
    from computed.plans import moved_by_contact

    # given scores over last contacted (a condition, on a channel, the attribute), a formula over one,
    # and attributes over an event and over country
    def score(key, condition, **kwargs):
        return make_computed(key, "score", {"rules": [{"condition": condition, "points": 1}]}, **kwargs)

    every = [
        score("never", {"last_contacted": {"op": "unknown"}}, activate=True),
        score("mailed", {"last_contacted": {"op": "less_than", "value": 7, "channel": "email"}}),
        score("recent", {"attribute": "last_contacted_at", "op": "within_last_days", "value": 3}),
        make_computed("never_doubled", "formula", {"formula": "never * 2"}),
        make_computed("orders", "aggregate", {"function": "count", "event": "Order Completed"}),
        score("french", {"attribute": "country", "op": "equals", "value": "FR"}),
    ]
    # then
    assert {a.key for a in moved_by_contact(every)} == {"never", "mailed", "recent", "never_doubled"}
