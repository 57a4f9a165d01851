"""An aggregate's property filters are built by clicking (the shared condition builder, mode
"filters"), never typed as JSON."""

import os
import shutil

import pytest
from django.conf import settings

from computed.models import ComputedAttribute

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("ATTUNE_REQUIRE_BROWSER"), reason="Chromium is not installed"
)
@pytest.mark.django_db(transaction=True)
def test_a_marketer_filters_an_aggregate_by_clicking(live_server, admin_user):
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
        # given: an empty filter list says that every event counts
        filters = page.locator("[data-cb=filters]")
        filters.wait_for()
        assert "Every event counts" in filters.inner_text()
        # when: "big orders" counts Order Completed events whose amount is at least 10
        page.fill("#id_key", "big_orders")
        page.fill("#id_name", "Big orders")
        page.select_option("#id_kind", "aggregate")
        page.select_option("#id_function", "count")
        page.fill("#id_event", "Order Completed")
        filters.locator("[data-cb=add-filter]").click()
        filters.locator("[data-cb=property]").fill("amount")
        filters.locator("[data-cb=property-type]").select_option("number")
        filters.locator("[data-cb=op]").select_option("gte")
        filters.locator("[data-cb=value]").fill("10")
        # and: the period reads as the days it covers, live as the preset changes
        page.select_option("#id_period_type", "full_days")
        page.fill("#id_period_value", "30")
        period = page.locator("#period-text")
        period.filter(has_text="today is not included").wait_for()
        assert period.inner_text().startswith("Covers: ")
        assert f", {settings.ORGANIZATION_TIMEZONE}; today is not included" in period.inner_text()
        page.fill("#id_period_value", "0")
        period.filter(has_text="expected a whole number from 1 to 3660").wait_for()
        page.fill("#id_period_value", "30")
        period.filter(has_text="today is not included").wait_for()
        page.click("input[name=_save], button[name=_save]")
        page.wait_for_url("**/computedattribute/")
        browser.close()
    # then: the stored definition filters on amount >= 10, as the aggregate language has it
    saved = ComputedAttribute.objects.get(key="big_orders")
    assert saved.kind == "aggregate"
    assert saved.definition["event"] == "Order Completed"
    assert saved.definition["filters"] == [{"property": "amount", "op": "gte", "value": 10}]
    assert saved.definition["period"] == {"type": "full_days", "value": 30}
