"""A computed value's "why" opens on click in Chromium."""
# In tests/people, after the computed and identity tests: its transactional flush removes the
# migrations' rows (schedules) that those tests read, as the other browser tests here do.

import pytest

from tests.browser import login, pytestmark  # noqa: F401  (skip marks)


@pytest.mark.django_db(transaction=True)
def test_why_expands_on_click_and_shows_the_matching_events(
    page,
    live_server,
    admin_user,
    make_person,
    make_event,
):
    from playwright.sync_api import expect

    from computed import services

    # given a person with two orders and an active sum of their revenue
    person = make_person(first_name="Ada")
    make_event(person, "Order Completed", properties={"revenue": 30})
    make_event(person, "Order Completed", properties={"revenue": 12})
    services.activate(
        services.computed_attribute_create(
            key="revenue_total",
            name="Revenue total",
            kind="aggregate",
            definition={"function": "sum", "event": "Order Completed", "property": "revenue"},
        )
    )
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    why = page.locator("details[data-why=revenue_total]")
    # the explanation is not even worked out until asked for
    expect(why.locator("summary")).to_have_text("Why is Revenue total 42.0?")
    expect(why.locator("[data-why-events]")).to_have_count(0)
    # when the marketer clicks "Why?"
    why.locator("summary").click()
    # then the matching events and the sum show
    expect(why.locator("[data-why-events]")).to_be_visible()
    expect(why).to_contain_text("2 of 2 Order Completed events matched")
    expect(why).to_contain_text("Sum of revenue of Order Completed events → 42")
    expect(why.locator("[data-why-events] tbody tr")).to_have_count(2)
    expect(why.locator("[data-why-events]")).to_contain_text("revenue: 30")
    expect(why.locator("[data-why-events]")).to_contain_text("revenue: 12")
