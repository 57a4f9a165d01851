"""The management API: CRUD with nested rows, duplicate, state, guarded delete, analysis, simulation,
reactions, deliveries and redelivery; path-precise errors for bad definitions."""

import pytest
from rest_framework.test import APIClient

from actions.models import Action, Reaction, WebhookDelivery
from people.selectors import organization_today

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user, web):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def payload(web):
    return {
        "name": "Welcome",
        "type": "welcomeBanner",
        "tags": ["home"],
        "state": "active",
        "channels": ["web"],
        "trait_conditions": {"attribute": "first_name", "op": "is_not_empty"},
        "context_conditions": [
            {"channel": "web", "key": "page.path", "type": "text", "op": "starts_with", "value": "/"}
        ],
        "properties": [
            {"name": "title", "kind": "template", "value": "Hi {{first_name|there}}"},
            {"name": "title", "channel": "app", "kind": "text", "value": "Hi"},
        ],
        "capping_rules": [
            {"reaction": "shown", "group": "user", "count": 3, "within_days": 7, "channels": ["web"]}
        ],
        "hooks": [{"reaction": "accepted", "kind": "track_event", "event_name": "Welcome Accepted"}],
    }


def test_create_read_update(staff, payload):
    created = staff.post("/api/actions/", payload, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["properties"][0] == {
        "channel": "",
        "name": "title",
        "kind": "template",
        "value": "Hi {{first_name|there}}",
        "attribute": "",
        "value_type": "string",
        "fallback": "",
    }
    assert body["capping_rules"] == [
        {"channels": ["web"], "reaction": "shown", "group": "user", "count": 3, "within_days": 7}
    ]
    updated = staff.patch(
        f"/api/actions/{body['id']}/", {"name": "Hello", "capping_rules": []}, format="json"
    )
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["capping_rules"], len(updated.json()["properties"])) == (
        "Hello",
        [],
        2,
    )
    listed = staff.get("/api/actions/?state=active")
    assert [a["name"] for a in listed.json()["results"]] == ["Hello"]


@pytest.mark.parametrize(
    "change,field,message",
    [
        (
            {"type": "Welcome Banner"},
            "type",
            "Use camelCase: a lower-case letter first, then letters and digits.",
        ),
        ({"channels": ["tv"]}, "channels", "unknown channels: tv"),
        (
            {"trait_conditions": {"attribute": "nope", "op": "equals", "value": 1}},
            "trait_conditions",
            "attribute: unknown attribute 'nope'",
        ),
        (
            {"context_conditions": [{"key": "x", "type": "number", "op": "gt", "value": "a"}]},
            "context_conditions",
            "context_conditions[0]: expected a number; got 'a'",
        ),
        ({"context_conditions": {"a": 1}}, "context_conditions", "context conditions: expected a list"),
        (
            {"properties": [{"name": "t", "kind": "template", "value": "Hi {{first_name"}]},
            "properties[0].value",
            "template column 4: '{{' is not closed with '}}'",
        ),
        (
            {"properties": [{"name": "t", "kind": "template", "value": "{{nope}}"}]},
            "properties[0].value",
            "template: unknown attribute(s) nope",
        ),
        (
            {"properties": [{"name": "t", "kind": "trait"}]},
            "properties[0].attribute",
            "choose the attribute whose value is returned",
        ),
        (
            {
                "properties": [
                    {
                        "name": "n",
                        "kind": "trait",
                        "attribute": "first_name",
                        "value_type": "integer",
                        "fallback": "x",
                    }
                ]
            },
            "properties[0].fallback",
            "'x' is not a integer",
        ),
        (
            {
                "hooks": [
                    {"reaction": "shown", "kind": "webhook", "url": "https://x.example", "synchronous": True}
                ]
            },
            "hooks[0].synchronous",
            "Only a webhook on 'accepted' can be synchronous.",
        ),
        (
            {"hooks": [{"reaction": "shown", "kind": "track_event"}]},
            "hooks[0].event_name",
            "Name the event to store.",
        ),
        (
            {"capping_rules": [{"reaction": "shown", "count": 1, "channels": ["tv"]}]},
            "capping_rules[0].channels",
            "unknown channels: tv",
        ),
        (
            {"start_date": "2026-06-02", "end_date": "2026-06-01"},
            "end_date",
            "The end date is before the start date.",
        ),
    ],
)
def test_bad_definitions_are_refused_with_their_path_and_nothing_is_written(
    staff, payload, change, field, message
):
    response = staff.post("/api/actions/", {**payload, **change}, format="json")
    assert response.status_code == 400
    errors = response.json()
    flat = errors.get(field) if isinstance(errors.get(field), list) else errors
    assert message in str(flat), errors
    assert not Action.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"type": "x"},
        {"name": "x", "type": "x", "capping_rules": [{"reaction": "clicked", "count": 1}]},
        {"name": "x", "type": "x", "capping_rules": [{"reaction": "shown", "count": 0}]},
        {"name": "x", "type": "x", "state": "paused"},
        {"name": "x", "type": "x", "tags": "home"},
        {"name": "x", "type": "x", "test_users": [{"person": 999999}]},
        {"name": "x", "type": "x", "start_time": "25:00"},
    ],
)
def test_bad_fields_are_400(staff, body):
    response = staff.post("/api/actions/", body, format="json")
    assert response.status_code == 400
    assert not Action.objects.exists()


def test_duplicate_state_and_guarded_delete(staff, payload):
    action_id = staff.post("/api/actions/", payload, format="json").json()["id"]
    copy = staff.post(f"/api/actions/{action_id}/duplicate/", {}, format="json")
    assert copy.status_code == 201
    assert (
        copy.json()["name"],
        copy.json()["state"],
        len(copy.json()["properties"]),
        len(copy.json()["hooks"]),
    ) == (
        "Copy of Welcome",
        "inactive",
        2,
        1,
    )
    refused = staff.delete(f"/api/actions/{action_id}/")
    assert refused.status_code == 400
    assert "is active: set it inactive before deleting it" in str(refused.json())
    assert (
        staff.post(f"/api/actions/{action_id}/state/", {"state": "inactive"}, format="json").json()["state"]
        == "inactive"
    )
    assert staff.post(f"/api/actions/{action_id}/state/", {"state": "gone"}, format="json").status_code == 400
    assert staff.delete(f"/api/actions/{action_id}/").status_code == 204
    assert list(Action.objects.values_list("name", flat=True)) == ["Copy of Welcome"]


def test_simulate(staff, payload, known):
    person = known(first_name="Ada")
    action_id = staff.post("/api/actions/", payload, format="json").json()["id"]
    result = staff.post(
        f"/api/actions/{action_id}/simulate/",
        {"person": person.pk, "channel": "web", "context": {"page": {"path": "/cart"}}},
        format="json",
    ).json()
    assert result["gets_action"] is True
    assert result["properties"] == {"title": "Hi Ada"}
    refused = staff.post(
        f"/api/actions/{action_id}/simulate/", {"person": person.pk, "channel": "web"}, format="json"
    ).json()
    assert refused["gets_action"] is False
    assert (
        refused["steps"][7]["reason"] == "context page.path starts_with / is false (the request has missing)"
    )
    assert (
        staff.post(
            f"/api/actions/{action_id}/simulate/", {"person": 0, "channel": "web"}, format="json"
        ).status_code
        == 400
    )


def test_analysis_reactions_and_deliveries(staff, payload, known, django_capture_on_commit_callbacks):
    person = known()
    action_id = staff.post("/api/actions/", payload, format="json").json()["id"]
    Reaction.objects.create(action_id=action_id, person=person, channel="web", kind="delivered")
    today = organization_today().isoformat()  # the analysis counts the organization's days
    analysis = staff.get(f"/api/actions/{action_id}/analysis/?start=2020-01-01&end={today}&resolution=week")
    assert analysis.status_code == 200
    assert analysis.json()["counts"]["delivered"] == 1
    assert staff.get(f"/api/actions/{action_id}/analysis/?start=2026-02-01&end=2026-01-01").status_code == 400
    assert staff.get(f"/api/actions/{action_id}/analysis/?start=x&end=y").status_code == 400
    reactions = staff.get(f"/api/actions/{action_id}/reactions/").json()["results"]
    assert [(r["kind"], r["person_uid"]) for r in reactions] == [("delivered", str(person.uid))]
    delivery = WebhookDelivery.objects.create(
        action_id=action_id, event="accepted", url="http://127.0.0.1:9/x", body="{}", status="failed"
    )
    assert [d["id"] for d in staff.get(f"/api/actions/{action_id}/deliveries/").json()["results"]] == [
        delivery.pk
    ]
    with django_capture_on_commit_callbacks(execute=True):
        again = staff.post(f"/api/webhook-deliveries/{delivery.pk}/redeliver/")
    assert again.status_code == 202
    assert WebhookDelivery.objects.get(pk=again.json()["id"]).attempts == 1


def test_audience_webhooks_api(staff):
    created = staff.post(
        "/api/audience-webhooks/", {"name": "All", "url": "https://x.example/hook"}, format="json"
    )
    assert created.status_code == 201
    refused = staff.post(
        "/api/audience-webhooks/",
        {"name": "None", "url": "https://x.example/hook", "on_entered": False, "on_exited": False},
        format="json",
    )
    assert refused.status_code == 400


def test_marketeers_may_manage_actions_and_anonymous_may_not(marketeer_user, payload):
    client = APIClient()
    assert client.get("/api/actions/").status_code in (401, 403)
    client.force_authenticate(marketeer_user)
    assert client.post("/api/actions/", payload, format="json").status_code == 201
