"""Signed webhooks: signature and replays, retries with backoff against a live receiver, the
delivery log, redelivery, synchronous accept hooks, stored-event hooks and key rotation."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from actions import services, tasks, webhooks
from actions.models import Reaction, WebhookDelivery
from people.models import Event
from tests.actions.receiver import Receiver, verify

pytestmark = pytest.mark.django_db
KEY = "k" * 64


def hook_action(make_action, url, **hook):
    spec = {"reaction": "accepted", "kind": "webhook", "url": url, "extra": {"coupon": "SUMMER"}, **hook}
    return make_action(name="Coupon", hooks=[spec])


def test_accept_calls_the_signed_webhook_with_the_documented_body(api, make_action, known):
    # given
    known()
    with Receiver() as receiver:
        action = hook_action(make_action, receiver.url)
        # when
        response = api.post(
            "/v1/actions/act",
            {"actionId": action.pk, "userId": "u1", "event": "accept", "properties": {"size": "M"}},
        )
    # then
    assert response.status_code == 200
    [request] = receiver.requests
    body = request["json"]
    assert {
        k: body[k] for k in ("event", "actionId", "userId", "channel", "userProperties", "customProperties")
    } == {
        "event": "accepted",
        "actionId": action.pk,
        "userId": "u1",
        "channel": "web",
        "userProperties": {"size": "M"},
        "customProperties": {"coupon": "SUMMER"},
    }
    assert verify(request["headers"]["X-Attune-Signature"], request["body"], KEY)
    assert request["headers"]["User-Agent"] == "Attune Webhook Client"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    assert delivery.response_excerpt == '{"ok": true}'
    assert delivery.latency_ms is not None


def test_replayed_or_tampered_deliveries_are_rejected_by_the_receiver(api, make_action, known):
    known()
    with Receiver() as receiver:
        action = hook_action(make_action, receiver.url)
        api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    request = receiver.requests[0]
    header, body = request["headers"]["X-Attune-Signature"], request["body"]
    sent_at = int(header.split(",")[0][2:])
    assert verify(header, body, KEY, now=sent_at + 299)
    assert not verify(header, body, KEY, now=sent_at + 301)  # replayed later
    assert not verify(header, body + b" ", KEY, now=sent_at)  # tampered
    assert not verify(header, body, "other-key", now=sent_at)  # forged


def test_retries_with_backoff_against_a_receiver_that_fails_twice(api, make_action, known):
    # given: the receiver answers 500, then 503, then 200
    known()
    with Receiver(script=[500, 503]) as receiver:
        action = hook_action(make_action, receiver.url)
        # when: the act (first attempt runs at once), then the retry sweeps as time passes
        api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
        delivery = WebhookDelivery.objects.get()
        first = (delivery.status, delivery.attempts, delivery.response_code)
        assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=30)
        assert tasks.deliver_due_webhooks(now=timezone.now()) == 0  # not due yet
        assert tasks.deliver_due_webhooks(now=timezone.now() + timedelta(seconds=31)) == 1
        delivery.refresh_from_db()
        second = (delivery.status, delivery.attempts, delivery.response_code)
        assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=60)
        tasks.deliver_due_webhooks(now=timezone.now() + timedelta(seconds=95))
    # then
    delivery.refresh_from_db()
    assert first == ("retrying", 1, 500)
    assert second == ("retrying", 2, 503)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    assert len(receiver.requests) == 3
    assert len({r["body"] for r in receiver.requests}) == 1  # the same body each time
    assert all(verify(r["headers"]["X-Attune-Signature"], r["body"], KEY) for r in receiver.requests)
    assert Reaction.objects.filter(kind="accepted").count() == 1  # the act did not wait for the hook


def test_gives_up_after_the_documented_number_of_attempts(make_action, known):
    known()
    with Receiver(script=[500] * 10) as receiver:
        delivery = webhooks.enqueue(
            hook=None, action_id=None, person=None, event="accepted", url=receiver.url, body="{}"
        )
        tasks.deliver_webhook(delivery.pk)
        later = timezone.now()
        for _ in range(10):
            later += timedelta(hours=1)
            tasks.deliver_due_webhooks(now=later)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert delivery.next_attempt_at is None


def test_connection_errors_are_logged_and_retried(make_action, org):
    delivery = webhooks.enqueue(
        hook=None, action_id=None, person=None, event="x", url="http://127.0.0.1:9/none", body="{}"
    )
    tasks.deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "retrying"
    assert delivery.response_code is None
    assert "Connection refused" in delivery.error or "Error" in delivery.error


def test_manual_redelivery_sends_the_same_body_again(make_action, known, django_capture_on_commit_callbacks):
    known()
    with Receiver(script=[500] * 6) as receiver:
        delivery = webhooks.enqueue(
            hook=None, action_id=None, person=None, event="accepted", url=receiver.url, body='{"a":1}'
        )
        tasks.deliver_webhook(delivery.pk)
        receiver.script = []
        with django_capture_on_commit_callbacks(execute=True):
            copy = services.delivery_redeliver(delivery=delivery)
    copy.refresh_from_db()
    assert copy.pk != delivery.pk
    assert (copy.status, copy.body) == ("succeeded", '{"a":1}')
    assert [r["body"] for r in receiver.requests] == [b'{"a":1}', b'{"a":1}']


@pytest.mark.parametrize("status", [300, 409, 500])
def test_synchronous_accept_hook_failing_fails_the_act_and_records_nothing(api, make_action, known, status):
    known()
    with Receiver(script=[status]) as receiver:
        action = hook_action(make_action, receiver.url, synchronous=True)
        response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert response.status_code == status
    assert response.json()["code"] == "hook_failed"
    assert response.json()["hook"] == {"statusCode": status, "body": {"error": "try later"}, "error": ""}
    assert not Reaction.objects.exists()
    assert WebhookDelivery.objects.get().status == "failed"


def test_synchronous_accept_hook_answer_reaches_the_client(api, make_action, known):
    known()
    with Receiver(body=b'{"code": "SAVE-10"}') as receiver:
        action = hook_action(make_action, receiver.url, synchronous=True)
        response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "reaction": "accepted",
        "hook": {"statusCode": 200, "body": {"code": "SAVE-10"}, "error": ""},
    }
    assert Reaction.objects.filter(kind="accepted").count() == 1


def test_synchronous_hook_unreachable_fails_with_502(api, make_action, known):
    known()
    action = hook_action(make_action, "http://127.0.0.1:9/none", synchronous=True)
    response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert response.status_code == 502
    assert not Reaction.objects.exists()


def test_track_event_hook_stores_an_event_with_the_act_context(api, make_action, known):
    person = known()
    action = make_action(
        name="Survey",
        hooks=[
            {"reaction": "declined", "kind": "track_event", "event_name": "Survey Declined", "channel": "web"}
        ],
    )
    api.post(
        "/v1/actions/act",
        {
            "actionId": action.pk,
            "userId": "u1",
            "event": "decline",
            "context": {"page": {"path": "/"}},
            "properties": {"why": "busy"},
        },
    )
    event = Event.objects.get(name="Survey Declined")
    assert event.person_id == person.pk
    assert event.properties == {"why": "busy", "actionId": action.pk, "reaction": "declined"}
    assert event.context["page"] == {"path": "/"}


def test_hooks_of_another_channel_or_reaction_do_not_run(api, make_action, known):
    known()
    with Receiver() as receiver:
        action = make_action(
            name="x",
            channels=["web", "app"],
            hooks=[
                {"reaction": "accepted", "kind": "webhook", "url": receiver.url, "channel": "app"},
                {"reaction": "shown", "kind": "webhook", "url": receiver.url},
            ],
        )
        api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert receiver.requests == []


def test_key_rotation_signs_with_both_keys_until_finished(api, make_action, known, org):
    known()
    services.signing_key_rotate()
    org.refresh_from_db()
    new_key, old_key = org.webhook_signing_key, org.webhook_signing_key_previous
    assert old_key == KEY and new_key != KEY
    with Receiver() as receiver:
        action = hook_action(make_action, receiver.url)
        api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
        services.signing_key_finish_rotation()
        api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    first, second = receiver.requests
    assert first["headers"]["X-Attune-Signature"].count("v1=") == 2
    assert verify(first["headers"]["X-Attune-Signature"], first["body"], old_key)
    assert verify(first["headers"]["X-Attune-Signature"], first["body"], new_key)
    assert second["headers"]["X-Attune-Signature"].count("v1=") == 1
    assert not verify(second["headers"]["X-Attune-Signature"], second["body"], old_key)


def test_hooks_on_delivered_run_for_the_client_api(api, make_action, known):
    person = known()
    with Receiver() as receiver:
        action = make_action(
            name="Seen",
            hooks=[
                {"reaction": "delivered", "kind": "webhook", "url": receiver.url},
                {"reaction": "delivered", "kind": "track_event", "event_name": "Banner Delivered"},
            ],
        )
        api.post("/v1/actions", {"userId": "u1", "context": {"page": {"path": "/"}}})
    assert [(r["json"]["event"], r["json"]["actionId"], r["json"]["userId"]) for r in receiver.requests] == [
        ("delivered", action.pk, "u1")
    ]
    assert Event.objects.get(name="Banner Delivered").person_id == person.pk


def test_a_queueing_failure_does_not_fail_the_act_and_the_sweeper_sends_it(
    api, make_action, known, monkeypatch
):
    # given: the task queue is down when the act commits
    known()
    with Receiver() as receiver:
        action = hook_action(make_action, receiver.url)

        def broken(delivery_id):
            raise ImportError("broker unavailable")

        monkeypatch.setattr(webhooks, "_async", broken)
        # when
        response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
        pending = WebhookDelivery.objects.get().status
        tasks.deliver_due_webhooks(now=timezone.now() + timedelta(seconds=1))
    # then
    assert response.status_code == 200
    assert pending == "pending"
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert len(receiver.requests) == 1


def test_with_the_database_queue_the_task_commits_with_the_act(api, make_action, known, web, monkeypatch):
    # given: django-q2 queues in this database and does not run tasks synchronously (production)
    from django_q.conf import Conf
    from django_q.models import OrmQ

    def queued():
        tasks = [row.task for row in OrmQ.objects.order_by("id")]
        return [t["args"] for t in tasks if t["func"] == "actions.tasks.deliver_webhook"]

    known()
    action = hook_action(make_action, "http://127.0.0.1:9/never", reaction="shown")
    monkeypatch.setattr(Conf, "SYNC", False)
    # when: one act is answered, another is rolled back after the act
    response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "show"})
    with pytest.raises(RuntimeError), transaction.atomic():
        services.act(
            source=web.source,
            person=Reaction.objects.get().person,
            action_id=action.pk,
            event="show",
            identifiers={"user_id": "u1"},
        )
        inside = queued()
        raise RuntimeError("the request failed after the act")
    # then: each delivery's task is written in the act's transaction, and goes with its rollback
    delivery = WebhookDelivery.objects.get()
    assert response.status_code == 200
    assert len(inside) == 2
    assert queued() == [(delivery.pk,)]
    assert Reaction.objects.count() == 1
