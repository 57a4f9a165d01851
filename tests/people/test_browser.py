"""The admin pages that run JavaScript (Unfold's filter sheet, the person list and 360 page), in a real
Chromium driven by Playwright against a live server."""

import pytest
from django.core.management import call_command

from people.models import Person
from tests.browser import login, pytestmark  # noqa: F401  (skip marks)


@pytest.mark.django_db(transaction=True)
def test_marketer_finds_a_person_and_opens_the_360_page(page, live_server, admin_user):
    # given demo data
    call_command("load_demo", people=30, seed=5, verbosity=0)
    person = Person.objects.filter(event_count__gt=2).exclude(email="").first()
    login(page, live_server, admin_user)
    # when: search the person list and open the result
    page.goto(f"{live_server.url}/admin/people/person/")
    page.fill("input[name=q]", person.email)
    page.keyboard.press("Enter")
    page.locator(f"#result_list a[href*='/admin/people/person/{person.pk}/change/']").first.click()
    # then: the 360 sections are visible
    from playwright.sync_api import expect

    for section in ["basic", "activity", "device", "attributes", "timeline"]:
        expect(page.locator(f"[data-section={section}]")).to_be_visible()
    expect(page.locator("[data-section=basic]")).to_contain_text(person.email)


@pytest.mark.django_db(transaction=True)
def test_last_contacted_filter_through_the_filter_sheet(page, live_server, admin_user):
    # given
    call_command("load_demo", people=30, seed=5, verbosity=0)
    never = Person.objects.live().filter(last_contacted_at__isnull=True).count()
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/people/person/")
    # when: open the filter sheet (Alpine.js), choose "unknown" and apply
    page.locator("a[x-on\\:click='filterOpen = true']").first.click()
    page.select_option("select[name=lc_op]", "unknown")
    page.locator("#filter-form button[type=submit]").first.click()
    page.wait_for_url("**lc_op=unknown**")
    # then: only never-contacted people are listed
    from playwright.sync_api import expect

    expect(page.locator("#result_list tbody tr")).to_have_count(min(never, 100))


@pytest.mark.django_db(transaction=True)
def test_360_page_shows_identifiers_computed_values_and_purchase_statistics(page, live_server, admin_user):
    # given a demo person with orders before today
    from datetime import timedelta

    from playwright.sync_api import expect

    from identity.models import Identity
    from people.lastcontacted import day_bounds
    from people.models import Event
    from people.selectors import organization_today, organization_tz

    call_command("load_demo", people=60, seed=11, verbosity=0)
    start, _ = day_bounds(organization_today(), organization_tz())
    person, orders = None, 0
    for candidate in Person.objects.live().order_by("pk"):
        bought = Event.objects.filter(person=candidate, name="Order Completed")
        n = bought.count()
        recent = bought.filter(timestamp__gte=start - timedelta(days=360)).count()
        if n >= 2 and recent == n and not bought.filter(timestamp__gte=start).exists():
            person, orders = candidate, n
            break
    assert person is not None
    login(page, live_server, admin_user)
    # when
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    # then every identifier value is shown, and the order count as a computed value and a statistic
    identifiers = page.locator("[data-section=identity]")
    for value in Identity.objects.filter(person=person).values_list("value", flat=True):
        expect(identifiers).to_contain_text(value)
    row = page.locator("[data-section=computed] tr", has_text="orders_lifetime")
    expect(row.locator("td").nth(1)).to_have_text(str(orders))
    statistics = page.locator("[data-section=purchase_statistics]")
    expect(
        statistics.locator("dt", has_text="Purchases, 1 year").locator("xpath=following-sibling::dd[1]")
    ).to_have_text(str(orders))


@pytest.mark.django_db(transaction=True)
def test_person_form_has_typed_custom_fields_and_a_list_table(page, live_server, admin_user):
    # given attribute definitions of several types
    from playwright.sync_api import expect

    from people.services import attribute_definition_create

    attribute_definition_create(key="visits", label="Visits", type="integer")
    attribute_definition_create(key="vip", label="VIP", type="boolean")
    attribute_definition_create(key="renewal", label="Renewal", type="date")
    attribute_definition_create(
        key="orders",
        label="Orders",
        type="list",
        item_schema=[{"key": "sku", "type": "text"}, {"key": "qty", "type": "integer"}],
    )
    person = Person.objects.create(first_name="Ada")
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    # then there is no JSON box to type in: a number, a yes/no choice, a date picker and a table
    expect(page.locator("textarea[name=custom]")).to_have_count(0)
    expect(page.locator("input[name=custom__visits]")).to_have_attribute("type", "number")
    expect(page.locator("details:has(textarea[name=custom__orders])")).not_to_have_attribute("open", "")
    # when the operator fills them in by clicking and typing
    page.fill("input[name=custom__visits]", "7")
    page.select_option("select[name=custom__vip]", "true")
    page.fill("input[name=custom__renewal]", "2027-01-31")
    page.click("[data-list-table] [data-add-row]")
    page.fill("[data-list-table] input[aria-label=sku]", "SKU-1")
    page.fill("[data-list-table] input[aria-label=qty]", "2")
    page.click("button[name=_continue]")
    page.wait_for_load_state("networkidle")
    # then the values are stored typed, and shown again in the form
    person.refresh_from_db()
    assert person.custom == {
        "visits": 7,
        "vip": True,
        "renewal": "2027-01-31",
        "orders": [{"sku": "SKU-1", "qty": 2}],
    }
    expect(page.locator("[data-list-table] input[aria-label=sku]")).to_have_value("SKU-1")
    expect(page.locator("[data-section=attributes]")).to_contain_text("2027-01-31")


@pytest.mark.django_db(transaction=True)
def test_dashboard_charts_render_with_data_axes_and_tooltips(page, live_server, admin_user):
    # given demo data (events over the last weeks, three sources)
    call_command("load_demo", people=40, seed=5, verbosity=0)
    from django.core.cache import cache

    cache.delete("attune:dashboard")
    login(page, live_server, admin_user)
    # when the dashboard has drawn its charts
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas.chart').length >= 2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas.chart')].every(c => Chart.getChart(c))"
    )
    charts = page.evaluate(
        """() => [...document.querySelectorAll('canvas.chart')].map((canvas) => {
            const chart = Chart.getChart(canvas);
            return {
                series: chart.data.datasets.map((d) => d.label),
                total: chart.data.datasets.reduce((sum, d) => sum + d.data.reduce((a, b) => a + b, 0), 0),
                x: chart.options.scales.x.title.text,
                y: chart.options.scales.y.title.text,
                tooltip: chart.options.plugins.tooltip.enabled,
                height: canvas.getBoundingClientRect().height,
            };
        })"""
    )
    # then both charts have titled axes, tooltips and the data of the page's figures
    events, profiles = charts[:2]  # the first two; the identity-health charts follow
    from people.models import Event

    assert (events["x"], events["y"], profiles["y"]) == ("Day", "Events", "New profiles")
    assert events["tooltip"] and profiles["tooltip"]
    assert set(events["series"]) <= {"Website", "iOS app", "Email service", "No source (API, imports)"}
    assert len(events["series"]) >= 2
    assert 0 < events["total"] <= Event.objects.count()
    assert events["height"] > 100


@pytest.mark.django_db(transaction=True)
def test_360_timeline_filter_and_as_of_navigate_without_saving_the_person(page, live_server, admin_user):
    # given a person with a plan change and two kinds of events
    from datetime import timedelta

    from django.utils import timezone
    from playwright.sync_api import expect

    from people.models import AttributeChange, Event
    from people.services import AttributeWrite, attribute_definition_create, person_write_attributes

    attribute_definition_create(key="plan", label="Plan", type="text")
    person = Person.objects.create(first_name="Ada")
    start = timezone.now() - timedelta(days=3)
    person_write_attributes(person=person, writes=[AttributeWrite("plan", "free")], at=start)
    Event.objects.create(person=person, name="Signed Up", timestamp=start, message_id="m1")
    Event.objects.create(
        person=person, name="Order Completed", timestamp=start + timedelta(days=1), message_id="m2"
    )
    changes = AttributeChange.objects.count()
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    # when the marketer filters the timeline to one event
    page.select_option("[data-timeline-filters] select[data-param=tl_event]", "Order Completed")
    page.click("[data-timeline-filters] [data-get-submit]")
    page.wait_for_url("**tl_event=Order+Completed**")
    # then only that event is listed
    expect(page.locator("[data-timeline-item]")).to_have_count(1)
    expect(page.locator("[data-timeline-item]")).to_contain_text("Order Completed")
    # when they ask for the profile as of the day before the plan was set, pressing Enter
    page.fill(
        "[data-section=as-of] input[data-param=as_of]", (start - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    page.press("[data-section=as-of] input[data-param=as_of]", "Enter")
    page.wait_for_url("**as_of=**")
    # then the plan reads "not recorded" then, "free" now, and nothing was saved
    expect(page.locator("[data-as-of] tr", has_text="Plan")).to_contain_text("not recorded")
    expect(page.locator("[data-as-of] tr", has_text="Plan")).to_contain_text("free")
    assert AttributeChange.objects.count() == changes


@pytest.mark.django_db(transaction=True)
def test_event_debugger_refreshes_by_itself(page, live_server, admin_user):
    # given the debugger of a source, open in the browser, from the sidebar
    from playwright.sync_api import expect

    from people.models import Channel, Event
    from people.services import source_create

    source = source_create(name="Website", channel=Channel.objects.create(key="web", name="Web")).source
    person = Person.objects.create(first_name="Ada")
    Event.objects.create(
        person=person, name="Page Viewed", source=source, timestamp=timezone_now(), message_id="m1"
    )
    login(page, live_server, admin_user)
    page.click("#nav-sidebar-apps a:has-text('Event debugger')")
    expect(page.locator("[data-section=accepted]")).to_contain_text("Page Viewed")
    page.evaluate("window.notReloaded = true")
    # when a new message arrives
    Event.objects.create(
        person=person,
        name="Order Completed",
        source=source,
        timestamp=timezone_now(),
        message_id="m2",
        properties={"coupon": None},
    )
    # then it appears within a refresh (5 s) without reloading, its payload as JSON
    expect(page.locator("[data-section=accepted]")).to_contain_text("Order Completed", timeout=12_000)
    assert page.evaluate("window.notReloaded === true")
    page.locator("[data-message=m2] summary").click()
    expect(page.locator("[data-message=m2] pre")).to_contain_text('"coupon": null')


def timezone_now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.django_db(transaction=True)
def test_bulk_update_value_input_follows_the_attribute_type(page, live_server, admin_user):
    # given two people and a date attribute
    from playwright.sync_api import expect

    from people.services import attribute_definition_create

    attribute_definition_create(key="renewal", label="Renewal", type="date")
    people = [Person.objects.create(first_name="Ada"), Person.objects.create(first_name="Grace")]
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/people/person/")
    # when both are selected and the bulk update action is chosen
    for person in people:
        page.check(f"input[name=_selected_action][value='{person.pk}']")
    page.select_option("select[name=action]", "bulk_update")
    page.click("button[name=index]")
    # then the value box is visible and becomes a date picker for a date attribute
    value = page.locator("#bulk-update-form input[name=value]")
    expect(value).to_be_visible()
    page.select_option("#bulk-update-form select[name=attribute]", "renewal")
    expect(value).to_have_attribute("type", "date")
    page.select_option("#bulk-update-form select[name=attribute]", "first_name")
    expect(value).to_have_attribute("type", "text")
    page.select_option("#bulk-update-form select[name=attribute]", "renewal")
    value.fill("2027-03-01")
    page.click("#bulk-update-form button[name=apply]")
    page.wait_for_url("**/admin/people/job/**")
    # and the job sets it on both
    assert sorted(p.custom.get("renewal") for p in Person.objects.all()) == ["2027-03-01", "2027-03-01"]


@pytest.mark.django_db(transaction=True)
def test_360_timeline_shows_contacts_audience_entries_and_reactions_and_filters_by_kind(
    page, live_server, admin_user
):
    # given a person contacted by email, who entered an audience and accepted an action
    from datetime import timedelta

    from django.utils import timezone
    from playwright.sync_api import expect

    from actions.models import Action, Reaction
    from audiences.models import Audience, MembershipHistory
    from people.models import Channel, Event, EventDefinition

    base = timezone.now() - timedelta(days=3)
    person = Person.objects.create(first_name="Ada")
    email = Channel.objects.create(key="email", name="Email")
    EventDefinition.objects.create(name="Email Sent", is_contact=True)
    Event.objects.create(person=person, name="Email Sent", channel=email, timestamp=base, message_id="m1")
    vips = Audience.objects.create(key="vips", name="Very important", state="active")
    MembershipHistory.objects.create(
        audience=vips, person=person, kind="entered", at=base + timedelta(days=1)
    )
    promo = Action.objects.create(name="Spring promo", type="banner")
    Reaction.objects.create(
        action=promo, person=person, channel="web", kind="accepted", created_at=base + timedelta(days=2)
    )
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    # then each shows on the timeline, newest first, as a marketer reads it
    items = page.locator("[data-timeline-item]")
    expect(items.nth(0)).to_contain_text("Accepted: Spring promo")
    expect(items.nth(0)).to_contain_text("on web · action type banner")
    expect(items.nth(1)).to_contain_text("Entered Very important")
    expect(page.locator("[data-timeline-item=contacts]")).to_contain_text("Contacted on Email: Email Sent")
    # when the marketer shows only audience entries and exits
    page.select_option(
        "[data-timeline-filters] select[data-param=tl_kind]", label="Audience entries and exits"
    )
    page.click("[data-timeline-filters] [data-get-submit]")
    page.wait_for_url("**tl_kind=audiences**")
    # then only the audience entry is left, and it leads to the audience
    expect(items).to_have_count(1)
    expect(items).to_contain_text("Entered Very important")
    items.locator("a").click()
    page.wait_for_url(f"**/admin/audiences/audience/{vips.pk}/change/")


@pytest.mark.django_db(transaction=True)
def test_dashboard_latest_events_tail_new_events_live_and_pause(page, live_server, admin_user):
    # given a source and its write key, and the dashboard open
    import base64
    import json

    from playwright.sync_api import expect

    from identity.policy import ensure_default_types
    from people.models import Channel
    from people.services import source_create

    ensure_default_types()
    credentials = source_create(name="Web shop", channel=Channel.objects.create(key="web", name="Web"))
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"{credentials.write_key}:".encode()).decode(),
        "Content-Type": "application/json",
    }

    def track(event: str, message_id: str) -> None:
        body = {"type": "track", "userId": "u-42", "event": event, "messageId": message_id}
        response = page.request.post(f"{live_server.url}/v1/track", data=json.dumps(body), headers=auth)
        assert response.status == 200, response.text()

    login(page, live_server, admin_user)
    tail = page.locator("[data-section=latest-events]")
    expect(tail).to_contain_text("No events yet")
    page.evaluate("window.notReloaded = true")
    # when an event is tracked through the real endpoint
    track("Order Completed", "live-1")
    # then it appears on top within a few seconds, without a reload, with its source
    first_row = tail.locator("tbody tr").first
    expect(first_row).to_contain_text("Order Completed", timeout=10_000)
    expect(first_row).to_contain_text("Web shop")
    expect(first_row).to_contain_text("seconds ago")
    assert page.evaluate("window.notReloaded === true")
    # when paused, a new event does not come in
    page.click("[data-live-toggle]")
    expect(tail).to_contain_text("Paused")
    track("Coupon Used", "live-2")
    page.wait_for_timeout(4_000)
    expect(tail).not_to_contain_text("Coupon Used")
    # until the tail is resumed
    page.click("[data-live-toggle]")
    expect(first_row).to_contain_text("Coupon Used", timeout=10_000)
    expect(tail.locator("tbody tr")).to_have_count(2)
