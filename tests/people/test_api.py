"""The management API: token auth for staff, model permissions, filters, cursor pagination."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from identity.staff_tokens import management_token_key
from people.models import AttributeType, Job, Person
from people.services import attribute_definition_create, contact_record, job_start

pytestmark = pytest.mark.django_db


def test_requires_a_token():
    assert APIClient().get("/api/people/").status_code == 401


def test_non_staff_user_is_refused(django_user_model):
    user = django_user_model.objects.create_user("bob", password="pw")
    client = APIClient()
    Token.objects.create(user=user, key=management_token_key("bob-token"))
    client.credentials(HTTP_AUTHORIZATION="Token bob-token")
    assert client.get("/api/people/").status_code == 403


def test_list_people_with_cursor_pagination(api, make_person):
    for i in range(3):
        make_person(first_name=f"P{i}")
    response = api.get("/api/people/", {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 2 and body["next"]
    rest = api.get(body["next"]).json()
    assert len(rest["results"]) == 1


def test_filter_people_by_last_contacted_per_channel(api, make_person, make_channel):
    # given one person contacted 3 days ago on email, one never
    email = make_channel("email")
    contacted = make_person(first_name="C")
    make_person(first_name="N")
    contact_record(person=contacted, channel=email, at=timezone.now() - timedelta(days=3, hours=1))

    # when / then
    def names(**params):
        return [p["first_name"] for p in api.get("/api/people/", params).json()["results"]]

    assert names(last_contacted="more_than", days=2, channel="email") == ["C"]
    assert names(last_contacted="exactly", days=3) == ["C"]
    assert names(last_contacted="unknown") == ["N"]
    assert names(last_contacted="unknown", channel="email") == ["N"]
    assert api.get("/api/people/", {"last_contacted": "more_than"}).json() == {
        "days": ["Required with last_contacted=more_than."]
    }


def test_update_attributes_through_the_service(api, make_person):
    attribute_definition_create(key="plan", label="Plan", type=AttributeType.TEXT)
    person = make_person()
    response = api.post(
        f"/api/people/{person.uid}/attributes/",
        {"set": {"plan": "pro", "email": " Ada@Example.COM "}, "unset": ["city"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["changed"] == ["email", "plan"]
    assert response.json()["person"]["email"] == "ada@example.com"
    person.refresh_from_db()
    assert person.custom == {"plan": "pro"}


def test_bad_attribute_value_is_a_400_naming_the_attribute(api, make_person):
    attribute_definition_create(key="visits", label="Visits", type=AttributeType.INTEGER)
    person = make_person()
    response = api.post(f"/api/people/{person.uid}/attributes/", {"set": {"visits": "x"}}, format="json")
    assert response.status_code == 400
    assert "Attribute 'visits' expects a whole number" in str(response.json())


def test_attribute_definition_type_cannot_change(api):
    created = api.post(
        "/api/attribute-definitions/", {"key": "score", "label": "Score", "type": "integer"}, format="json"
    )
    assert created.status_code == 201
    changed = api.patch(
        f"/api/attribute-definitions/{created.json()['id']}/", {"type": "text"}, format="json"
    )
    assert changed.status_code == 400
    assert changed.json() == {"type": ["The type of an attribute cannot change once created."]}


def test_list_attribute_needs_an_item_schema(api):
    response = api.post(
        "/api/attribute-definitions/", {"key": "orders", "label": "Orders", "type": "list"}, format="json"
    )
    assert response.status_code == 400
    assert "item_schema" in response.json()


def test_event_definition_with_nested_properties(api):
    response = api.post(
        "/api/event-definitions/",
        {
            "name": "Order Completed",
            "properties": [
                {"key": "amount", "type": "decimal", "required": True},
                {"key": "coupon", "type": "text", "regex": "^[A-Z]+$"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert [
        p["key"] for p in api.get(f"/api/event-definitions/{response.json()['id']}/").json()["properties"]
    ] == [
        "amount",
        "coupon",
    ]
    bad = api.post(
        "/api/event-definitions/",
        {"name": "X", "properties": [{"key": "a", "type": "text", "regex": "("}]},
        format="json",
    )
    assert bad.status_code == 400 and "regex" in str(bad.json())


def test_channel_key_is_immutable(api):
    channel = api.post("/api/channels/", {"key": "web", "name": "Web"}, format="json").json()
    response = api.patch(f"/api/channels/{channel['id']}/", {"key": "site"}, format="json")
    assert response.status_code == 400


def test_events_filter_by_person_and_name(api, make_person, make_event):
    ada, bob = make_person(), make_person()
    make_event(ada, "Page Viewed")
    make_event(ada, "Order Completed")
    make_event(bob, "Order Completed")
    response = api.get("/api/events/", {"person": str(ada.uid), "name": "Order Completed"})
    assert [(e["person"], e["name"]) for e in response.json()["results"]] == [
        (str(ada.uid), "Order Completed")
    ]


def test_jobs_show_progress(api, admin_user, make_person, django_capture_on_commit_callbacks):
    person = make_person()
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(
            kind="people.bulk_update",
            params={"person_ids": [person.pk], "key": "city", "value": "Oslo"},
            created_by=admin_user,
            total=1,
        )
    body = api.get(f"/api/jobs/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["progress_percent"] == 100
    assert body["result"] == {"changed": 1, "selected": 1}
    assert " ".join(body) == (
        "id kind params status progress_done progress_total progress_percent "
        "result error created_by created_at started_at finished_at"
    )
    assert (body["error"], body["created_by"]) == ("", admin_user.username)
    assert body["started_at"] and body["finished_at"]
    assert Person.objects.get(pk=person.pk).city == "Oslo"
    assert Job.objects.count() == 1


def test_marketeer_can_read_people_and_channels(api_as, marketeer_user, make_channel):
    client = api_as(marketeer_user)
    assert client.get("/api/people/").status_code == 200
    assert client.get("/api/channels/").status_code == 200


def test_openapi_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_lists_do_not_query_per_row(api, make_person, make_event, django_assert_max_num_queries):
    # given 30 people with an event each
    for i in range(30):
        make_event(make_person(first_name=f"P{i}"), "Page Viewed")
    # when / then: the page costs a constant number of queries (auth + page), not one per row
    with django_assert_max_num_queries(6):
        assert len(api.get("/api/events/").json()["results"]) == 30
    with django_assert_max_num_queries(6):
        assert len(api.get("/api/people/").json()["results"]) == 30


@pytest.mark.parametrize("days", ["99999999999", "-1", "x"])
def test_last_contacted_days_out_of_range_is_a_400(api, days):
    response = api.get("/api/people/", {"last_contacted": "more_than", "days": days})
    assert response.status_code == 400
    assert "days" in response.json()


def test_attribute_errors_carry_the_field_path(api, make_person):
    attribute_definition_create(key="visits", label="Visits", type=AttributeType.INTEGER)
    person = make_person()
    response = api.post(f"/api/people/{person.uid}/attributes/", {"set_once": {"visits": "x"}}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "set_once": {"visits": ["Attribute 'visits' expects a whole number; got 'x'."]}
    }


def test_record_a_contact_through_the_api(api, make_person, make_channel):
    make_channel("sms")
    person = make_person()
    response = api.post(
        f"/api/people/{person.uid}/contacts/", {"channel": "sms", "at": "2026-03-01T10:00:00Z"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["last_contacted_at"] == "2026-03-01T10:00:00Z"
    assert person.channel_contacts.get().channel.key == "sms"
    unknown = api.post(
        f"/api/people/{person.uid}/contacts/", {"channel": "fax", "at": "2026-03-01T10:00:00Z"}
    )
    assert unknown.status_code == 400 and "channel" in unknown.json()


def test_deleting_a_channel_in_use_is_a_409(api, make_source):
    source = make_source("Website").source
    response = api.delete(f"/api/channels/{source.channel_id}/")
    assert response.status_code == 409
    assert "Website" in response.json()["detail"]


def test_a_contact_recorded_through_the_api_updates_computed_attributes(
    api, make_person, make_channel, django_capture_on_commit_callbacks
):
    from computed import services as computed_services
    from computed.selectors import person_values

    # given an active score that takes a point off people never contacted
    make_channel("sms")
    person = make_person(first_name="Ann")
    computed_services.activate(
        computed_services.computed_attribute_create(
            key="reach",
            name="Reach",
            kind="score",
            definition={
                "rules": [
                    {"label": "Never", "condition": {"last_contacted": {"op": "unknown"}}, "points": -1}
                ]
            },
        )
    )
    assert person_values(person_id=person.pk)["reach"]["value"] == -1
    # when a contact is recorded through the API (and the transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/people/{person.uid}/contacts/", {"channel": "sms", "at": "2026-03-01T10:00:00Z"}
        )
    # then the computed value follows
    assert response.status_code == 200, response.json()
    assert person_values(person_id=person.pk)["reach"]["value"] == 0


def test_contacts_in_one_transaction_enqueue_one_refresh(
    make_person, make_channel, settings, django_capture_on_commit_callbacks
):
    from people import services
    from tests.people.test_pending_changes import CALLS, RECORDERS

    # given change tasks that record their calls
    settings.ATTUNE_PERSON_CHANGED_TASKS = RECORDERS
    CALLS.clear()
    sms = make_channel("sms")
    ann, bob = make_person(), make_person()
    # when two contacts and an older, ignored one are recorded in one transaction that commits
    with django_capture_on_commit_callbacks(execute=True):
        services.contact_record(person=ann, channel=sms, at=timezone.now())
        services.contact_record(person=bob, channel=None, at=timezone.now())
        services.contact_record(person=bob, channel=None, at=timezone.now() - timedelta(days=9))
    # then each higher app's task runs once, for both people
    assert [(name, sorted([ann.pk, bob.pk]), "contact") for name in ("computed", "audiences")] == CALLS


def test_updating_a_schema_replaces_its_properties(api, make_channel):
    # given an event definition and a channel's context schema, each with one property
    event = api.post(
        "/api/event-definitions/",
        {"name": "Signed Up", "properties": [{"key": "plan", "type": "text"}]},
        format="json",
    ).json()
    web = make_channel("web")
    context = api.post(
        "/api/context-definitions/",
        {"channel": web.pk, "properties": [{"key": "locale", "type": "text", "required": True}]},
        format="json",
    )
    assert context.status_code == 201, context.json()
    # when their properties are replaced, and the description alone changes later
    changed = api.patch(
        f"/api/event-definitions/{event['id']}/",
        {"properties": [{"key": "seats", "type": "integer"}, {"key": "trial", "type": "boolean"}]},
        format="json",
    )
    described = api.patch(
        f"/api/context-definitions/{context.json()['id']}/", {"description": "App context"}, format="json"
    )
    # then the answers show the new schema, and a change without properties keeps them
    assert [(p["key"], p["type"]) for p in changed.json()["properties"]] == [
        ("seats", "integer"),
        ("trial", "boolean"),
    ]
    assert described.json()["description"] == "App context"
    assert [(p["key"], p["required"]) for p in described.json()["properties"]] == [("locale", True)]
