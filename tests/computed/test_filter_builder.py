"""An aggregate's property filters are built by clicking (the shared condition builder, mode
"filters"), never typed as JSON."""

import pytest
from django.conf import settings

from computed.models import ComputedAttribute
from tests.browser import browser_test


@pytest.mark.slow
@browser_test
@pytest.mark.django_db(transaction=True)
def test_a_marketer_filters_an_aggregate_by_clicking(add_form):
    page = add_form
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
    # then: the stored definition filters on amount >= 10, as the aggregate language has it
    saved = ComputedAttribute.objects.get(key="big_orders")
    assert saved.kind == "aggregate"
    assert saved.definition["event"] == "Order Completed"
    assert saved.definition["filters"] == [{"property": "amount", "op": "gte", "value": 10}]
    assert saved.definition["period"] == {"type": "full_days", "value": 30}
