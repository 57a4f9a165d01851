"""Scoring rules are built by clicking (the shared condition builder), never typed as JSON."""

import os
import shutil

import pytest

from computed.models import ComputedAttribute

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("ATTUNE_REQUIRE_BROWSER"), reason="Chromium is not installed"
)
@pytest.mark.django_db(transaction=True)
def test_a_marketer_builds_a_score_by_clicking(live_server, admin_user):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{live_server.url}/admin/login/?next=/admin/computed/computedattribute/add/")
        page.fill("input[name=username]", admin_user.username)
        page.fill("input[name=password]", "pw")
        page.click("button[type=submit]")
        page.wait_for_url("**/computedattribute/add/")
        # when: a score "German buyers" gets one rule, +15 points when the country is DE
        page.fill("#id_key", "german_score")
        page.fill("#id_name", "German score")
        page.select_option("#id_kind", "score")
        page.click("[data-cb=add-rule]")
        page.locator("[data-cb=rule-label]").first.fill("German")
        page.locator("[data-cb=rule-points]").first.fill("15")
        page.locator("[data-cb-rule='0'] [data-cb=add-attribute]").click()
        page.locator("[data-cb-rule='0'] [data-cb=attribute]").select_option("country")
        page.locator("[data-cb-rule='0'] [data-cb=value]").fill("DE")
        page.click("input[name=_save], button[name=_save]")
        page.wait_for_url("**/computedattribute/")
        browser.close()
    # then: the saved definition is that rule, as the condition language has it
    saved = ComputedAttribute.objects.get(key="german_score")
    assert saved.kind == "score"
    assert saved.definition["rules"] == [
        {
            "label": "German",
            "points": 15,
            "condition": {"and": [{"attribute": "country", "op": "equals", "value": "DE"}]},
        }
    ]
