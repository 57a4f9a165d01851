"""The admin pages that run JavaScript (Unfold's filter sheet, the person list and 360 page), in a real
Chromium driven by Playwright against a live server."""

import os
import shutil

import pytest
from django.core.management import call_command

from people.models import Person

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("ATTUNE_REQUIRE_BROWSER"),
        reason="Chromium is not installed (CI installs it and sets ATTUNE_REQUIRE_BROWSER=1)",
    ),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        yield page
        browser.close()


def login(page, live_server, admin_user):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", admin_user.username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


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
