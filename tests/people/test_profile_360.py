"""The Person 360 page shows the values of every section: identifiers, computed attributes, purchase
statistics, attributes and the timeline (not just that a section exists)."""

import html
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from identity.models import Identity
from people.lastcontacted import day_bounds
from people.models import Event, Person
from people.selectors import organization_today, organization_tz

pytestmark = pytest.mark.django_db


def section_text(body: str, key: str) -> str:
    """The visible text of one ``data-section`` of the page, tags removed and spaces collapsed."""
    match = re.search(rf'<section[^>]*data-section="{key}"[^>]*>(.*?)</section>', body, re.S)
    assert match, f"section {key!r} missing"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.fixture
def buyer(db):
    """A demo person with at least two orders, all before today (so every full-day period counts them)."""
    call_command("load_demo", people=60, seed=11, verbosity=0)
    start_of_today, _ = day_bounds(organization_today(), organization_tz())
    for person in Person.objects.live().order_by("pk"):
        orders = Event.objects.filter(person=person, name="Order Completed")
        recent = orders.filter(timestamp__gte=start_of_today - timedelta(days=360))
        count = orders.count()
        today = orders.filter(timestamp__gte=start_of_today).exists()
        if count >= 2 and recent.count() == count and not today:
            return person, count
    pytest.skip("the demo data has no buyer with two orders before today")


def test_360_page_shows_identifier_values(client, admin_user, buyer):
    # given
    person, _ = buyer
    identities = list(Identity.objects.filter(person=person).select_related("type"))
    assert len(identities) >= 2
    client.force_login(admin_user)
    # when
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    # then every identifier is listed with its type
    text = section_text(body, "identity")
    assert "No identifiers." not in text
    for identity in identities:
        assert f"{identity.type.key} {identity.value}" in text


def test_360_page_shows_computed_values_and_purchase_statistics(client, admin_user, buyer):
    # given a person with n orders, all before today
    person, orders = buyer
    client.force_login(admin_user)
    # when
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    # then the order count is shown as a computed value and as a purchase statistic
    computed = section_text(body, "computed")
    assert f"Orders (lifetime) orders_lifetime {orders} aggregate" in computed
    statistics = section_text(body, "purchase_statistics")
    assert f"Purchases, 1 year {orders} " in statistics + " "


def test_360_page_shows_attributes_and_timeline_as_a_marketer_reads_them(
    client, admin_user, make_person, make_event
):
    # given
    person = make_person(first_name="Ada", email="ada@example.com", custom={"plan": "pro"})
    make_event(person, "Order Completed", properties={"total": 12.5, "coupon": None})
    client.force_login(admin_user)
    # when
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    # then event properties read as JSON (null, double quotes), not as Python prints them
    timeline = section_text(body, "timeline")
    assert "Order Completed" in timeline
    assert "{&quot;total&quot;: 12.5, &quot;coupon&quot;: null}" in timeline
    assert "None" not in timeline
    assert "Email email ada@example.com" in section_text(body, "attributes")


def _timeline(body: str) -> list[str]:
    items = re.findall(r'data-timeline-item="(\w+)"[^>]*>(.*?)</li>', body, re.S)
    # each item starts with its kind label ("event", "change"), dropped here
    return [f"{kind}: " + " ".join(re.sub(r"<[^>]+>", " ", text).split()[1:]) for kind, text in items]


def _titles(body: str) -> list[str]:
    """Each timeline entry as "<kind>: <title>" (without its time and detail)."""
    items = re.findall(
        r'data-timeline-item="(\w+)"><span[^>]*>[^<]*</span>(?:<b>|<a[^>]*>)(.*?)</(?:b|a)>', body, re.S
    )
    return [f"{kind}: {html.unescape(title)}" for kind, title in items]


@pytest.fixture
def history(admin_user, make_person, make_event):
    """A person whose plan changed twice and who did three things, at known times."""
    from django.utils import timezone

    from people.services import AttributeWrite, person_write_attributes

    person = make_person(first_name="Ada")
    base = timezone.now().replace(microsecond=0) - timedelta(days=10)
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "free")], at=base, actor=admin_user)
    make_event(person, "Signed Up", at=base + timedelta(hours=1))
    make_event(person, "Order Completed", at=base + timedelta(days=2))
    person_write_attributes(
        person=person, writes=[AttributeWrite("plan", "pro")], at=base + timedelta(days=3), actor=admin_user
    )
    make_event(person, "Order Completed", at=base + timedelta(days=4))
    return person, base


@pytest.fixture
def plan_definition(db):
    from people.services import attribute_definition_create

    return attribute_definition_create(key="plan", label="Plan", type="text")


def test_timeline_merges_events_and_changes_newest_first_with_filters(
    client, admin_user, plan_definition, history
):
    person, _ = history
    client.force_login(admin_user)
    url = reverse("admin:people_person_change", args=[person.pk])
    # when / then: everything, newest first
    kinds = [
        item.split(":")[0] + ":" + item.split(" ")[1] for item in _timeline(client.get(url).content.decode())
    ]
    assert kinds == ["events:Order", "changes:plan:", "events:Order", "events:Signed", "changes:plan:"]
    # only one event name
    only_orders = _timeline(client.get(url, {"tl_event": "Order Completed"}).content.decode())
    assert len(only_orders) == 2 and all(i.startswith("events: Order Completed") for i in only_orders)
    # only attribute changes, as a marketer reads them
    changes = _timeline(client.get(url, {"tl_kind": "changes"}).content.decode())
    assert len(changes) == 2
    assert changes[0].startswith("changes: plan: free → pro ")
    assert changes[1].startswith("changes: plan: empty → free ")


def test_timeline_pages_back_with_older(client, admin_user, plan_definition, history):
    person, _ = history
    from people import selectors

    # given a page size of 2
    first = selectors.person_timeline(person=person, limit=2)
    second = selectors.person_timeline(person=person, limit=2, before=first["next_before"])
    third = selectors.person_timeline(person=person, limit=2, before=second["next_before"])
    # then the pages follow each other without repeats
    titles = [item["title"] for page in (first, second, third) for item in page["items"]]
    assert titles == [
        "Order Completed",
        "plan: free → pro",
        "Order Completed",
        "Signed Up",
        "plan: empty → free",
    ]
    assert third["next_before"] is None
    client.force_login(admin_user)
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert "data-timeline-older" not in body  # 5 items fit in the 25 of a page


def test_profile_as_of_a_time_is_rebuilt_from_the_change_log(client, admin_user, plan_definition, history):
    person, base = history
    client.force_login(admin_user)
    url = reverse("admin:people_person_change", args=[person.pk])

    def plan_at(moment) -> str:
        body = client.get(url, {"as_of": moment.strftime("%Y-%m-%dT%H:%M:%S%z")}).content.decode()
        table = re.search(r"<table[^>]*data-as-of[^>]*>(.*?)</table>", body, re.S).group(1)
        return " ".join(
            re.sub(
                r"<[^>]+>", " ", re.search(r"<tr[^>]*>\s*<td[^>]*>Plan</td>(.*?)</tr>", table, re.S).group(1)
            ).split()
        )

    assert plan_at(base - timedelta(days=1)) == "not recorded pro"
    assert plan_at(base + timedelta(days=1)) == "free pro"
    assert plan_at(base + timedelta(days=5)) == "pro pro"


@pytest.mark.parametrize(
    "params",
    [
        {"as_of": "yesterday"},
        {"as_of": "2026-13-45T99:99"},
        {"tl_before": "not a time"},
        {"tl_before": "2026-01-01T00:00:00+00:00~events~x"},
        {"tl_before": "2026-01-01T00:00:00+00:00~nope~1~2"},
        {"tl_before": "9999-12-31T23:59:59.999999+00:00~changes~1"},
        {"tl_before": "2026-01-01T00:00:00+00:00~unknown-kind~99999999999999999999"},
        {"tl_before": "0001-01-01T00:00"},
        {"tl_kind": "<script>"},
        {"tl_event": "x" * 5000},
        {"as_of": "9999-12-31T23:59"},
        {"as_of": "0001-01-01T00:00"},
    ],
)
def test_odd_timeline_parameters_never_break_the_page(client, admin_user, make_person, params):
    person = make_person(first_name="Ada")
    client.force_login(admin_user)
    response = client.get(reverse("admin:people_person_change", args=[person.pk]), params)
    assert response.status_code == 200
    assert "Ada" in response.content.decode()


def test_timeline_pages_through_entries_sharing_one_time_without_repeats_or_gaps(make_person, make_event):
    # given seven events and two attribute changes, all at the same moment
    from django.utils import timezone

    from people import selectors
    from people.services import AttributeWrite, person_write_attributes

    person = make_person(first_name="Ada")
    moment = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    for i in range(7):
        make_event(person, f"Step {i}", at=moment)
    person_write_attributes(
        person=person, writes=[AttributeWrite("first_name", "Ann"), AttributeWrite("city", "Köln")], at=moment
    )
    # when paging three at a time
    seen, before = [], None
    for _ in range(5):
        page = selectors.person_timeline(person=person, limit=3, before=before)
        seen += [item["title"] for item in page["items"]]
        before = page["next_before"]
        if before is None:
            break
    # then every entry shows once: events first (newest id first), then the changes
    assert seen == [f"Step {i}" for i in range(6, -1, -1)] + ["city: empty → Köln", "first_name: Ada → Ann"]


@pytest.fixture
def contacted(make_person, make_event, make_channel):
    """A person with a contact event on email, a contact recorded by the API on SMS, an audience entry
    and exit and a reaction to an action, at known times (some on a profile merged into it)."""
    from django.utils import timezone

    from actions.models import Action, Reaction
    from audiences.models import Audience, MembershipHistory
    from people.models import EventDefinition
    from people.services import contact_record

    base = timezone.now().replace(microsecond=0) - timedelta(days=5)
    email, sms = make_channel("email", "Email"), make_channel("sms", "SMS")
    EventDefinition.objects.create(name="Email Sent", is_contact=True)
    person = make_person(first_name="Ada")
    child = make_person(first_name="Ada (old profile)", merged_into=person)
    make_event(person, "Email Sent", at=base, channel=email, properties={"campaign": "welcome"})
    contact_record(person=person, channel=email, at=base)
    contact_record(person=person, channel=sms, at=base + timedelta(days=1))
    germans = Audience.objects.create(key="germans", name="Germans", state="active")
    MembershipHistory.objects.create(
        audience=germans, person=child, kind="entered", at=base + timedelta(days=2)
    )
    MembershipHistory.objects.create(
        audience=germans, person=person, kind="exited", at=base + timedelta(days=4)
    )
    promo = Action.objects.create(name="Spring promo", type="banner")
    Reaction.objects.create(
        action=promo, person=person, channel="web", kind="accepted", created_at=base + timedelta(days=3)
    )
    return person, germans, promo


def test_timeline_shows_contacts_audience_entries_and_reactions(client, admin_user, contacted):
    person, germans, promo = contacted
    client.force_login(admin_user)
    url = reverse("admin:people_person_change", args=[person.pk])
    # when: everything, newest first
    body = client.get(url).content.decode()
    items = _timeline(body)
    # then each kind reads as a marketer says it, the merged profile's entry included
    assert _titles(body) == [
        "audiences: Exited Germans",
        "reactions: Accepted: Spring promo",
        "audiences: Entered Germans",
        "contacts: Last contacted on SMS",
        "events: Email Sent",
        "contacts: Contacted on Email: Email Sent",
    ]
    assert "audience germans, version 0" in items[0]
    assert "on web · action type banner" in items[1]
    assert "the latest contact recorded on this channel" in items[3]
    assert '{"campaign": "welcome"}' in html.unescape(items[4])
    assert reverse("admin:audiences_audience_change", args=[germans.pk]) in body
    assert reverse("admin:actions_action_change", args=[promo.pk]) in body


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("contacts", ["contacts: Last contacted on SMS", "contacts: Contacted on Email: Email Sent"]),
        ("audiences", ["audiences: Exited Germans", "audiences: Entered Germans"]),
        ("reactions", ["reactions: Accepted: Spring promo"]),
        ("events", ["events: Email Sent"]),
        ("changes", []),
    ],
)
def test_timeline_filters_by_kind(client, admin_user, contacted, kind, expected):
    person, _, _ = contacted
    client.force_login(admin_user)
    body = client.get(reverse("admin:people_person_change", args=[person.pk]), {"tl_kind": kind}).content
    assert _titles(body.decode()) == expected
    if not expected:
        assert "Nothing to show." in section_text(body.decode(), "timeline")


def test_timeline_filter_offers_every_kind(client, admin_user, make_person):
    person = make_person(first_name="Ada")
    client.force_login(admin_user)
    body = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    select = re.search(r'<select data-param="tl_kind".*?</select>', body, re.S).group(0)
    options = [" ".join(o.split()) for o in re.findall(r"<option[^>]*>(.*?)</option>", select, re.S)]
    assert options == [
        "Everything",
        "Events",
        "Attribute changes",
        "Contacts",
        "Audience entries and exits",
        "Action reactions",
    ]
