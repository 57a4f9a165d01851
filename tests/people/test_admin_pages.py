"""What a marketer sees on the admin pages: counts that are not placeholders, events in time order,
a readable and live event debugger, one sidebar, breadcrumbs without repeats, charts with values."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from people.models import Person, RejectedMessage

pytestmark = pytest.mark.django_db


def text_of(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_select_all_on_the_people_list_names_no_placeholder_count(client, admin_user, make_person):
    # given more people than one page
    Person.objects.bulk_create([Person(first_name=f"P{i}") for i in range(120)])
    client.force_login(admin_user)
    # when
    body = client.get(reverse("admin:people_person_changelist")).content.decode()
    # then
    assert "9999999999" not in body
    assert "Select all matching people" in text_of(body)
    assert "All matching people selected" in text_of(body)


def test_bulk_update_value_field_is_a_visible_input(client, admin_user, make_person):
    # given
    people = [make_person(first_name="A"), make_person(first_name="B")]
    client.force_login(admin_user)
    # when the bulk update action opens its form
    body = client.post(
        reverse("admin:people_person_changelist"),
        {"action": "bulk_update", "_selected_action": [p.pk for p in people]},
    ).content.decode()
    # then the value input has a border (Unfold's input style) and the help says how to type values
    value_input = re.search(r'<input[^>]*name="value"[^>]*>', body).group(0)
    assert "border" in value_input
    assert "yes or no for true/false" in body


def test_events_list_is_newest_first_by_event_time(client, admin_user, make_person, make_event):
    # given events stored out of time order (an import of older events arrives last)
    person = make_person(first_name="Ada")
    now = timezone.now()
    make_event(person, "Second", at=now - timedelta(hours=1))
    make_event(person, "Newest", at=now - timedelta(minutes=5))
    make_event(person, "First", at=now - timedelta(hours=2))
    make_event(person, "Ancient", at=now - timedelta(days=40))
    client.force_login(admin_user)
    url = reverse("admin:people_event_changelist")
    # when
    response = client.get(url)
    # then: the last 7 days, by event time
    names = [event.name for event in response.context["cl"].result_list]
    assert names == ["Newest", "Second", "First"]
    assert "Without a filter the list shows the last 7 days" in text_of(response.content.decode())
    # and one person's events include older ones
    names = [e.name for e in client.get(url, {"person": str(person.uid)}).context["cl"].result_list]
    assert names == ["Newest", "Second", "First", "Ancient"]


def test_event_debugger_shows_json_and_is_in_the_sidebar(
    client, admin_user, make_person, make_event, make_source
):
    # given a source with one accepted and one rejected message
    source = make_source("Website").source
    make_event(make_person(), "Order Completed", source=source, properties={"coupon": None, "total": 12.5})
    RejectedMessage.objects.create(
        source=source, reason_code="invalid_json", reason="bad", payload={"event": "x", "userId": None}
    )
    client.force_login(admin_user)
    # when
    dashboard = client.get(reverse("admin:index")).content.decode()
    index = client.get(reverse("admin:identity_debugger_index"))
    page = client.get(reverse("admin:identity_debugger", args=[source.pk])).content.decode()
    # then the debugger is one click from the sidebar, and its single source opens directly
    assert f'href="{reverse("admin:identity_debugger_index")}"' in dashboard
    assert index.status_code == 302 and index.url == reverse("admin:identity_debugger", args=[source.pk])
    # and payloads are pretty-printed JSON, not Python's repr
    assert "&quot;coupon&quot;: null" in page
    assert "&quot;total&quot;: 12.5" in page
    assert "&quot;userId&quot;: null" in page
    assert "None" not in text_of(re.search(r'id="debugger-messages".*', page, re.S).group(0))
    assert "Live: refresh every 5 seconds" in text_of(page)


def test_event_debugger_lets_you_choose_among_sources(client, admin_user, make_source, make_channel):
    make_source("Website")
    make_source("iOS app", channel=make_channel("ios"))
    client.force_login(admin_user)
    body = text_of(client.get(reverse("admin:identity_debugger_index")).content.decode())
    assert "Choose a source" in body and "Website (Web)" in body and "iOS app (Ios)" in body


@pytest.mark.parametrize("source_id", [0, 999999])
def test_event_debugger_for_an_unknown_source_is_not_found(client, admin_user, source_id):
    client.force_login(admin_user)
    assert client.get(reverse("admin:identity_debugger", args=[source_id])).status_code == 404


def test_one_sidebar_with_computed_attributes_and_settings_by_permission(client, admin_user, marketeer_user):
    # when
    client.force_login(admin_user)
    as_admin = text_of(client.get(reverse("admin:index")).content.decode())
    client.force_login(marketeer_user)
    as_marketeer = text_of(client.get(reverse("admin:index")).content.decode())
    # then
    for label in ["Computed attributes", "Event debugger", "Sources", "Identities", "Attribute definitions"]:
        assert label in as_admin and label in as_marketeer
    assert "Users" in as_admin and "Organization" in as_admin
    assert "Users" not in as_marketeer and "Organization" not in as_marketeer


@pytest.mark.parametrize(
    ("page", "crumbs"),
    [
        ("people", "People"),
        ("ada", "People › Ada Lovelace"),
        ("computed", "Computed › Computed attributes"),
        ("identities", "Identity › Identities"),
    ],
)
def test_breadcrumbs_do_not_repeat(client, admin_user, make_person, page, crumbs):
    ada = make_person(first_name="Ada", last_name="Lovelace")
    url = {
        "people": reverse("admin:people_person_changelist"),
        "ada": reverse("admin:people_person_change", args=[ada.pk]),
        "computed": reverse("admin:computed_computedattribute_changelist"),
        "identities": reverse("admin:identity_identity_changelist"),
    }[page]
    client.force_login(admin_user)
    body = client.get(url).content.decode()
    title = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S).group(1)
    assert text_of(title.replace("chevron_right", "›")).startswith(crumbs)
    assert not text_of(title.replace("chevron_right", "›")).startswith(
        crumbs + " › " + crumbs.split(" › ")[-1]
    )


def test_dashboard_charts_have_axes_and_each_sources_values(
    client, admin_user, make_person, make_event, make_source
):
    # given two sources with events today
    web = make_source("Website").source
    person = make_person()
    for _ in range(3):
        make_event(person, "Page Viewed", source=web)
    make_event(person, "Order Completed")
    client.force_login(admin_user)
    from django.core.cache import cache

    cache.delete("attune:dashboard")
    # when
    response = client.get(reverse("admin:index"))
    # then
    events = json.loads(response.context["events_chart"])
    by_label = {d["label"]: d["data"][-1] for d in events["datasets"]}
    assert by_label == {"Website": 3, "No source (API, imports)": 1}
    options = json.loads(response.context["events_chart_options"])
    assert options["scales"]["y"]["title"]["text"] == "Events"
    assert options["scales"]["x"]["title"]["text"] == "Day"
    assert options["plugins"]["tooltip"]["enabled"] is True
    body = text_of(response.content.decode())
    assert "Events today 4" in body
    assert "4 events in 14 days" in body
    assert "Rejected today 0 (0.0%)" in body


def test_people_list_says_how_many_people_exactly_or_about(client, admin_user, monkeypatch):
    # given 3 people (exact) ...
    Person.objects.bulk_create([Person(first_name=f"P{i}") for i in range(3)])
    client.force_login(admin_user)
    url = reverse("admin:people_person_changelist")
    assert "3 people in all." in text_of(client.get(url).content.decode())
    # ... and a large table, estimated from the planner's statistics
    from people.admin import persons

    monkeypatch.setattr(persons, "estimated_count", lambda model, queryset=None: 1_234_567)
    assert "about 1.2M people in all." in text_of(client.get(url).content.decode())
    # a search names no total
    assert "in all." not in text_of(client.get(url, {"q": "P1"}).content.decode())


@pytest.mark.parametrize(
    ("value", "estimated", "shown"),
    [
        (0, True, "0"),
        (99_999, True, "99,999"),
        (123_456, False, "123,456"),
        (123_456, True, "about 123.5k"),
        (1_000_000, True, "about 1.0M"),
        (2_500_000_000, True, "about 2.5B"),
    ],
)
def test_counts_read_as_estimates_only_when_estimated_and_large(value, estimated, shown):
    from people.dashboard import about

    assert about(value, estimated=estimated) == shown
