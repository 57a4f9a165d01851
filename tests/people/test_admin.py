"""The admin pages a marketer uses render with demo data, for both roles, and their actions work."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from people.models import Job, Person, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("load_demo", people=40, seed=3, verbosity=0)


CHANGELISTS = [
    "people_person",
    "people_event",
    "people_rejectedmessage",
    "people_job",
    "people_attributedefinition",
    "people_eventdefinition",
    "people_contextdefinition",
    "people_channel",
    "people_source",
]


@pytest.fixture(params=["admin_user", "marketeer_user"])
def staff_client(client, request):
    """The test client logged in as an Admin, then as a Marketeer."""
    client.force_login(request.getfixturevalue(request.param))
    return client


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_render_for_both_roles(staff_client, demo, model):
    assert staff_client.get(reverse(f"admin:{model}_changelist")).status_code == 200


@pytest.mark.parametrize("role", ["admin_user", "marketeer_user"])
def test_dashboard_shows_counts_and_chart(client, demo, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Events today" in body
    assert "Events per day" in body
    live = Person.objects.live().count()
    assert f">{live}<" in body.replace(" ", "").replace("\n", "")  # the people count


def test_marketeer_cannot_manage_users_or_organization(client, demo, marketeer_user):
    client.force_login(marketeer_user)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:people_organizationsettings_changelist")).status_code == 403


def test_person_360_page_shows_every_section(client, demo, admin_user):
    # given a person with events
    client.force_login(admin_user)
    person = Person.objects.filter(event_count__gt=3).first()
    # when
    response = client.get(reverse("admin:people_person_change", args=[person.pk]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    for section in [
        "Basic information",
        "Activity",
        "Recent device",
        "Attributes",
        "Timeline",
        "The profile as of a time",
    ]:
        assert section in body
    assert str(person.uid) in body
    assert person.email in body
    assert "Website" in body or "iOS app" in body  # attribute source shown


def test_person_search_by_email_and_uid(client, demo, admin_user):
    client.force_login(admin_user)
    person = Person.objects.exclude(email="").first()
    url = reverse("admin:people_person_changelist")
    assert person.email in client.get(url, {"q": person.email}).content.decode()
    assert person.email in client.get(url, {"q": str(person.uid)}).content.decode()


def test_last_contacted_filter_on_the_person_list(client, demo, admin_user):
    client.force_login(admin_user)
    never = Person.objects.filter(last_contacted_at__isnull=True).first()
    contacted = Person.objects.filter(last_contacted_at__isnull=False).first()
    url = reverse("admin:people_person_changelist")
    body = client.get(url, {"lc_op": "unknown"}).content.decode()
    assert f"/admin/people/person/{never.pk}/change/" in body
    assert f"/admin/people/person/{contacted.pk}/change/" not in body


def test_person_list_filters_show_the_chosen_values_again(client, demo, admin_user):
    import re

    from people.models import Channel

    client.force_login(admin_user)
    email = Channel.objects.get(key="email")
    params = {
        "lc_op": "more_than",
        "lc_value": "7",
        "lc_channel": email.pk,
        "ca_key": "plan",
        "ca_value": "pro",
    }
    body = client.get(reverse("admin:people_person_changelist"), params).content.decode()

    def selected(name: str) -> str:
        select = re.search(rf'<select name="{name}".*?</select>', body, re.S).group(0)
        return re.search(r"<option[^>]*selected>(.*?)</option>", select).group(1)

    assert (selected("lc_op"), selected("lc_channel"), selected("ca_key")) == ("more than", "Email", "Plan")
    assert 'name="lc_value" value="7"' in body and 'name="ca_value" value="pro"' in body
    assert "By last contacted" in body and "By custom attribute" in body


def test_editing_a_person_goes_through_the_attribute_service(client, demo, admin_user, open_person_form):
    # given
    person = Person.objects.first()
    url, data = open_person_form(person)
    data["custom__plan"] = "enterprise"
    data["custom__newsletter_opt_in"] = "true"
    data["custom__lifetime_value"] = "12.50"
    data["first_name"] = "Grace"
    # when
    response = client.post(url, data)
    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.first_name == "Grace"
    assert person.custom["plan"] == "enterprise"
    assert person.custom["newsletter_opt_in"] is True
    assert person.custom["lifetime_value"] == 12.5
    assert person.attribute_changes.filter(key="first_name", actor=admin_user).exists()


def test_editing_a_person_with_a_bad_value_shows_the_error(client, demo, open_person_form):
    url, data = open_person_form(Person.objects.first())
    data["custom__lifetime_value"] = "lots"
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"custom__lifetime_value": ["Enter a number."]}
    assert "Enter a number." in response.content.decode()


def test_bulk_update_action_runs_a_job_and_audits(
    client, demo, admin_user, django_capture_on_commit_callbacks
):
    # given
    client.force_login(admin_user)
    ids = list(Person.objects.order_by("pk").values_list("pk", flat=True)[:5])
    url = reverse("admin:people_person_changelist")
    # when: the action shows the form, then applying it starts the job (sync in tests)
    form_page = client.post(url, {"action": "bulk_update", "_selected_action": ids})
    assert "Start bulk update" in form_page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "action": "bulk_update",
                "_selected_action": ids,
                "apply": "1",
                "attribute": "plan",
                "operation": "set",
                "value": "vip",
            },
        )
    # then
    job = Job.objects.get(kind="people.bulk_update")
    assert response.status_code == 302 and response["Location"].endswith(f"/job/{job.pk}/change/")
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress_done == 5 and job.progress_percent == 100
    assert set(Person.objects.filter(pk__in=ids).values_list("custom__plan", flat=True)) == {"vip"}
    job_page = client.get(response["Location"]).content.decode()
    assert 'data-job-state="succeeded"' in job_page and "changed: 5" in job_page
    assert Person.objects.get(pk=ids[0]).attribute_changes.filter(key="plan", new_value="vip").exists()


def test_creating_a_source_shows_the_write_key_once(client, demo, admin_user):
    client.force_login(admin_user)
    channel_id = Source.objects.first().channel_id
    response = client.post(
        reverse("admin:people_source_add"),
        {
            "name": "Server",
            "channel": channel_id,
            "protection": "create_update",
            "priority": 4,
            "enabled": "on",
        },
        follow=True,
    )
    source = Source.objects.get(name="Server")
    shown = [str(m) for m in response.context["messages"]]
    assert any("shown once" in m for m in shown)
    key = shown[0].split("<code>")[1].split("</code>")[0]
    assert Source.hash_write_key(key) == source.write_key_hash
    # rotating replaces the key
    old_hash = source.write_key_hash
    client.post(reverse("admin:people_source_rotate_write_key", args=[source.pk]))
    source.refresh_from_db()
    assert source.write_key_hash != old_hash


def _first_pk(model_label):
    from django.apps import apps

    return apps.get_model(model_label).objects.order_by("pk").values_list("pk", flat=True).first()


CHANGE_FORMS = [
    "people.Person",
    "people.AttributeDefinition",
    "people.EventDefinition",
    "people.ContextDefinition",
    "people.Channel",
    "people.Source",
    "people.Event",
]


@pytest.mark.parametrize("model_label", CHANGE_FORMS)
def test_change_and_add_forms_render_for_both_roles(staff_client, demo, model_label):
    app_label, model = model_label.lower().split(".")
    change = staff_client.get(reverse(f"admin:{app_label}_{model}_change", args=[_first_pk(model_label)]))
    assert change.status_code == 200
    if model != "event":
        assert staff_client.get(reverse(f"admin:{app_label}_{model}_add")).status_code == 200


def test_attribute_definition_type_is_read_only_once_created(client, demo, admin_user):
    from people.models import AttributeDefinition

    client.force_login(admin_user)
    definition = AttributeDefinition.objects.get(key="plan")
    response = client.get(reverse("admin:people_attributedefinition_change", args=[definition.pk]))
    form = response.context["adminform"].form
    assert "type" not in form.fields and "key" not in form.fields


def test_deleting_an_event_definition_keeps_the_events(client, demo, admin_user):
    from people.models import Event, EventDefinition

    client.force_login(admin_user)
    definition = EventDefinition.objects.get(name="Order Completed")
    before = Event.objects.filter(name="Order Completed").count()
    response = client.post(
        reverse("admin:people_eventdefinition_delete", args=[definition.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not EventDefinition.objects.filter(name="Order Completed").exists()
    assert before > 0 and Event.objects.filter(name="Order Completed").count() == before


@pytest.fixture
def open_person_form(client, admin_user):
    """``open_person_form(person)``: logged in as the Admin, the URL of the person's change page and
    the fields of its form as a browser posts them."""
    client.force_login(admin_user)

    def open_form(person: Person) -> tuple[str, dict]:
        url = reverse("admin:people_person_change", args=[person.pk])
        return url, _form_data(client, url)

    return open_form


def _form_data(client, url):
    """The fields of the change form as a browser posts them, hidden initial values included."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name, value in form.initial.items():
        if name not in form.fields:
            continue
        data[name] = "" if value is None else json.dumps(value) if isinstance(value, list) else str(value)
    data.update({f"initial-{k}": v for k, v in data.items()})
    return data


def test_saving_the_form_keeps_values_that_changed_while_it_was_open(client, demo, open_person_form):
    # given an operator opens a person's page
    from people.services import AttributeWrite, person_write_attributes

    person = Person.objects.filter(custom__plan__isnull=False).first()
    url, data = open_person_form(person)
    # when ingestion changes the plan meanwhile and the operator saves only a new first name
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "changed-meanwhile")])
    data["first_name"] = "Renamed"
    assert client.post(url, data).status_code == 302
    # then both changes are kept
    person.refresh_from_db()
    assert (person.first_name, person.custom["plan"]) == ("Renamed", "changed-meanwhile")


def test_a_leftover_value_of_a_deleted_definition_does_not_block_edits(client, demo, open_person_form):
    from people.models import AttributeDefinition

    person = Person.objects.filter(custom__plan__isnull=False).first()
    AttributeDefinition.objects.filter(key="plan").delete()
    url, data = open_person_form(person)
    assert "custom__plan" not in data  # no field for a deleted definition
    data["first_name"] = "Still editable"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.first_name == "Still editable"


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:auth_group_add",
        "admin:authtoken_tokenproxy_add",
        "admin:identity_accesstoken_add",
        "admin:django_q_schedule_add",
    ],
)
def test_marketeer_cannot_manage_groups_tokens_or_schedules(client, marketeer_user, url_name):
    client.force_login(marketeer_user)
    assert client.get(reverse(url_name)).status_code == 403


def test_marketeer_can_view_the_task_queue(client, marketeer_user):
    client.force_login(marketeer_user)
    assert client.get(reverse("admin:django_q_schedule_changelist")).status_code == 200


@pytest.mark.parametrize(
    "context", [{"device": "iPhone", "os": ["iOS"], "location": None}, {"locale": {"x": 1}}, {"userAgent": 5}]
)
def test_360_page_survives_odd_event_contexts(client, admin_user, make_person, make_event, context):
    person = make_person(first_name="Odd")
    make_event(person, "Page Viewed", context=context)
    client.force_login(admin_user)
    assert client.get(reverse("admin:people_person_change", args=[person.pk])).status_code == 200


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"person": "not-a-uuid"}, "neither a unified id"),
        ({"person": "²"}, "neither a unified id"),
    ],
)
def test_bad_event_filters_show_a_message_not_an_error(client, admin_user, params, message):
    client.force_login(admin_user)
    response = client.get(reverse("admin:people_event_changelist"), params, follow=True)
    assert response.status_code == 200
    assert message in " ".join(str(m) for m in response.context["messages"])


@pytest.mark.parametrize(
    "params",
    [
        {"lc_op": "unknown", "lc_channel": "abc"},
        {"lc_op": "more_than", "lc_value": "99999999999"},
        {"lc_op": "on", "lc_value": "yesterday"},
        {"lc_op": "nonsense"},
    ],
)
def test_bad_last_contacted_filters_show_a_message_not_an_error(client, admin_user, params):
    client.force_login(admin_user)
    response = client.get(reverse("admin:people_person_changelist"), params)
    assert response.status_code == 200
    assert "Last contacted filter" in " ".join(str(m) for m in response.context["messages"])


def test_search_by_phone_in_any_format_and_by_name_prefix(client, demo, admin_user):
    client.force_login(admin_user)
    person = Person.objects.exclude(phone="").first()
    url = reverse("admin:people_person_changelist")
    spaced = person.phone[:3] + " " + person.phone[3:7] + " " + person.phone[7:]
    assert f"/person/{person.pk}/change/" in client.get(url, {"q": spaced}).content.decode()
    by_name = client.get(url, {"q": f"{person.first_name[:3]} {person.last_name[:3]}"}).content.decode()
    assert f"/person/{person.pk}/change/" in by_name


def test_custom_attribute_and_country_filters(client, demo, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:people_person_changelist")
    pro = Person.objects.live().filter(custom__plan="pro").first()
    free = Person.objects.live().filter(custom__plan="free").first()
    body = client.get(url, {"ca_key": "plan", "ca_value": "pro"}).content.decode()
    assert f"/person/{pro.pk}/change/" in body and f"/person/{free.pk}/change/" not in body
    other = Person.objects.live().exclude(country=pro.country).first()
    body = client.get(url, {"country": pro.country.lower()}).content.decode()
    assert f"/person/{pro.pk}/change/" in body and f"/person/{other.pk}/change/" not in body
