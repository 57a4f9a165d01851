"""The Person 360 page shows the values of every section: identifiers, computed attributes, purchase
statistics, attributes and the timeline (not just that a section exists)."""

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
