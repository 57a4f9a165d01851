"""The audience step (member of any listed audience) and the audience entered/exited webhooks."""

import pytest

from actions import selectors, services, tasks
from actions.models import AudienceWebhook, WebhookDelivery
from audiences import services as audience_services
from tests.actions.receiver import Receiver, verify

pytestmark = pytest.mark.django_db


def audience(key, first_name):
    created = audience_services.audience_create(
        key=key,
        name=key.upper(),
        definition={"condition": {"attribute": "first_name", "op": "equals", "value": first_name}},
    )
    return audience_services.activate(created)


def test_member_of_any_listed_audience_passes(make_action, known):
    ada = known("u1", first_name="Ada")
    bob = known("u2", first_name="Bob")
    vip, other = audience("vip", "Ada"), audience("other", "Nobody")
    action = make_action(audience_ids=[other.pk, vip.pk])
    ada_steps = selectors.simulate(action=action, person=ada, channel="web")["steps"]
    bob_steps = selectors.simulate(action=action, person=bob, channel="web")["steps"]
    assert ada_steps[8] == {
        "step": "audiences",
        "label": "Audiences",
        "state": "passed",
        "reason": "a member of a listed audience",
    }
    assert bob_steps[8] == {
        "step": "audiences",
        "label": "Audiences",
        "state": "failed",
        "reason": "the person is in none of the action's audiences",
    }


def test_no_audiences_listed_is_no_restriction(make_action, known):
    person = known("u1")
    action = make_action()
    assert (
        selectors.simulate(action=action, person=person, channel="web")["steps"][8]["reason"]
        == "no audience restriction"
    )


def test_client_api_serves_members_only(api, make_action, known):
    known("u1", first_name="Ada")
    known("u2", first_name="Bob")
    vip = audience("vip", "Ada")
    make_action(audience_ids=[vip.pk])
    assert len(api.post("/v1/actions", {"userId": "u1"}).json()) == 1
    assert api.post("/v1/actions", {"userId": "u2"}).json() == []


def test_an_audience_targeted_by_an_action_cannot_be_deleted(make_action, known):
    from django.core.exceptions import ValidationError

    vip = audience("vip", "Ada")
    make_action(name="VIP offer", audience_ids=[vip.pk])
    audience_services.audience_disable(audience=vip)
    with pytest.raises(ValidationError, match="action 'VIP offer'"):
        audience_services.audience_delete(audience=vip)


@pytest.mark.postgres  # audiences announces changes on PostgreSQL only (no history span on SQLite)
def test_entered_and_exited_webhooks(known, web, org, django_capture_on_commit_callbacks):
    # given: a webhook on the vip audience for entries only, and one for every audience
    known("u1", first_name="Ada")
    with Receiver() as receiver:
        created = audience_services.audience_create(
            key="vip",
            name="VIP",
            definition={"condition": {"attribute": "first_name", "op": "equals", "value": "Ada"}},
        )
        AudienceWebhook.objects.create(
            name="VIP in", audience=created, on_exited=False, url=receiver.url, extra={"team": "crm"}
        )
        AudienceWebhook.objects.create(name="All", url=receiver.url)
        # when: Ada enters (activation), then leaves (her name changes and the audience refreshes)
        with django_capture_on_commit_callbacks(execute=True):
            vip = audience_services.activate(created)
        from identity.services import ingest_batch

        ingest_batch(
            source=web.source,
            messages=[
                {"type": "identify", "userId": "u1", "traits": {"first_name": "Eve"}, "messageId": "m2"}
            ],
        )
        with django_capture_on_commit_callbacks(execute=True):
            audience_services.refresh(vip)
    # then
    bodies = [r["json"] for r in receiver.requests]
    assert all(verify(r["headers"]["X-Attune-Signature"], r["body"], "k" * 64) for r in receiver.requests)
    entered = [b for b in bodies if b["changes"][0]["event"] == "entered"]
    exited = [b for b in bodies if b["changes"][0]["event"] == "exited"]
    assert len(entered) == 2 and len(exited) == 1
    assert {b["customProperties"].get("team") for b in entered} == {"crm", None}
    assert exited[0]["audienceKey"] == "vip"
    assert exited[0]["changes"][0]["userId"] == "u1"
    assert set(WebhookDelivery.objects.values_list("event", "status")) == {
        ("audience_entered", "succeeded"),
        ("audience_exited", "succeeded"),
    }


def test_membership_task_without_webhooks_queues_nothing(known):
    assert tasks.audience_membership_changed(audience_id=1, first_history_id=1, last_history_id=5) == 0


def test_changes_come_in_batches(known, web, org, monkeypatch, django_capture_on_commit_callbacks):
    from audiences.models import MembershipHistory

    monkeypatch.setattr(services, "AUDIENCE_BATCH", 2)
    people = [known(f"u{i}") for i in range(5)]
    vip = audience("vip", "Nobody")
    AudienceWebhook.objects.create(name="All", url="http://127.0.0.1:9/x")
    rows = MembershipHistory.objects.bulk_create(
        [MembershipHistory(audience=vip, person=p, kind="entered") for p in people]
    )
    queued = services.audience_webhooks_queue(
        audience_id=vip.pk, first_history_id=rows[0].id, last_history_id=rows[-1].id
    )
    assert [len(__import__("json").loads(d.body)["changes"]) for d in queued] == [2, 2, 1]
