"""A screenshot tour of the key admin pages with demo data, in a real Chromium: each page is checked
for what a marketer should see, and its PNG is written to ``ATTUNE_SCREENSHOTS`` (e.g. ``docs/img``,
the images the README and docs/admin.md show) or to a temporary directory.

    ATTUNE_SCREENSHOTS=docs/img .venv/bin/python -m pytest -p no:cacheprovider tests/test_screenshot_tour.py
"""

import base64
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from people.models import Channel, Person
from people.services import source_create
from tests.browser import login
from tests.browser import pytestmark as browser_marks

pytestmark = [pytest.mark.slow, *browser_marks]


def send_messages(browser_page, live_server, write_key: str) -> None:
    """Some tracking traffic through the real endpoint, so today's activity and the debugger show it."""
    from identity.models import Identity

    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    users = list(
        Identity.objects.filter(type__key="user_id").order_by("pk").values_list("value", flat=True)[:12]
    )
    good = [
        {
            "type": "track",
            "userId": user,
            "event": "Product Viewed",
            "messageId": f"tour-{i}",
            "properties": {"sku": f"SKU-{i}", "price": 10 + i, "coupon": None},
        }
        for i, user in enumerate(users)
    ]
    bad = [{"type": "track", "userId": users[0], "messageId": "tour-bad-1"}]  # no event name
    response = browser_page.request.post(
        f"{live_server.url}/v1/batch",
        data=json.dumps({"batch": good + bad}),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    assert response.status == 200, response.text()


@pytest.mark.django_db(transaction=True)
def test_screenshot_tour(page, live_server, admin_user, tmp_path):
    from playwright.sync_api import expect

    out = Path(os.environ.get("ATTUNE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    call_command("load_demo", people=300, seed=1, verbosity=0)
    credentials = source_create(name="Web shop", channel=Channel.objects.get(key="web"))
    login(page, live_server, admin_user)
    send_messages(page, live_server, credentials.write_key)

    def shot(name: str, selector: str | None = None) -> None:
        # Not "networkidle": the dashboard's live tail keeps asking, and each page's checks above
        # already waited for what it shows.
        page.wait_for_load_state("load")
        page.wait_for_timeout(800)  # chart animations
        if selector:
            page.locator(selector).first.screenshot(path=out / f"{name}.png")
        else:
            page.screenshot(path=out / f"{name}.png")

    # Dashboard
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("[data-section=events-chart]")).to_contain_text("events in 14 days")
    shot("admin-dashboard")
    expect(page.locator("[data-section=latest-events] tbody tr").first).to_contain_text("Product Viewed")
    shot("admin-dashboard-latest-events", "[data-section=latest-events]")

    # People list
    page.goto(f"{live_server.url}/admin/people/person/")
    expect(page.locator("#result_list")).to_be_visible()
    shot("admin-people")

    # Person 360: a person with identifiers, orders and custom attributes
    person = (
        Person.objects.live()
        .filter(event_count__gt=5)
        .exclude(custom={})
        .exclude(email="")
        .order_by("pk")
        .first()
    )
    page.goto(f"{live_server.url}/admin/people/person/{person.pk}/change/")
    expect(page.locator("[data-section=identity]")).not_to_contain_text("No identifiers.")
    shot("admin-person-360")
    # its timeline, and a computed value's "why", worked out when opened
    expect(page.locator("[data-timeline-item]").first).to_be_visible()
    shot("admin-person-timeline", "[data-section=timeline]")
    why = page.locator("[data-panel=computed-why] details").first
    why.locator("summary").click()
    expect(why).to_contain_text("(evaluated now)")
    shot("admin-person-why", "[data-section=computed]")
    page.locator("fieldset", has_text="Custom attributes").scroll_into_view_if_needed()
    shot("admin-person-form", "fieldset:has-text('Custom attributes')")

    # Events, newest first
    page.goto(f"{live_server.url}/admin/people/event/")
    expect(page.locator("[data-list-note=events]")).to_contain_text("Newest first by event time")
    shot("admin-events")

    # Event debugger of the source that just sent messages, one message opened
    page.goto(f"{live_server.url}/admin/identity/sourcedailystat/debugger/{credentials.source.pk}/")
    expect(page.locator("[data-section=accepted]")).to_contain_text("Product Viewed")
    page.locator("[data-section=accepted] summary").first.click()
    expect(page.locator("[data-section=accepted] pre").first).to_contain_text('"coupon": null')
    shot("admin-event-debugger")

    # Source activity
    page.goto(f"{live_server.url}/admin/identity/sourcedailystat/")
    expect(page.locator("[data-section=source-activity]")).to_contain_text("Web shop")
    shot("admin-source-activity")
