"""Scoring rules are built by clicking (the shared condition builder), never typed as JSON."""

import pytest

from computed.models import ComputedAttribute
from tests.browser import browser_test


@pytest.mark.slow
@browser_test
@pytest.mark.django_db(transaction=True)
def test_a_marketer_builds_a_score_by_clicking(add_form):
    page = add_form
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
