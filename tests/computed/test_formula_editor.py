"""The formula editor in the admin: suggestions as you type and a live check, in a real Chromium."""

import pytest
from django.urls import reverse

from people.models import AttributeType
from people.services import attribute_definition_create
from tests.browser import browser_test, chromium_page, login


@pytest.fixture
def vocabulary(db):
    attribute_definition_create(key="emails_sent", label="Emails sent", type=AttributeType.INTEGER)
    attribute_definition_create(
        key="email_link_clicks", label="Email link clicks", type=AttributeType.INTEGER
    )


def test_preview_reports_the_error_position_and_the_value_for_a_profile(
    client, admin_user, vocabulary, make_person
):
    # given
    client.force_login(admin_user)
    url = reverse("admin:computed_computedattribute_formula_preview")
    person = make_person(custom={"emails_sent": 8, "email_link_clicks": 2})
    # when / then: a bad formula names the position
    bad = client.get(url, {"formula": "round(100*(email_link_clicks/emails_sent,0)"}).json()
    assert bad["ok"] is False and "column" in bad["error"]
    # a good one gives its type and the value for the chosen profile
    good = client.get(
        url, {"formula": "round(100*(email_link_clicks/emails_sent),0)", "person": str(person.uid)}
    ).json()
    assert good["ok"] is True and float(good["value"]) == 25


@pytest.mark.slow
@browser_test
@pytest.mark.django_db(transaction=True)
def test_editor_suggests_names_and_checks_live(live_server, admin_user, vocabulary, make_person):
    from playwright.sync_api import expect

    person = make_person(custom={"emails_sent": 4, "email_link_clicks": 1})
    with chromium_page() as page:
        login(page, live_server, admin_user, "/admin/computed/computedattribute/add/")
        # when: the marketer types the start of an attribute
        page.fill("#formula-person", str(person.uid))
        page.click("#id_formula")
        page.keyboard.type("round(100*(email_l")
        # then: it is suggested, and Tab completes it
        expect(page.locator("#formula-suggestions li").first).to_contain_text("email_link_clicks")
        page.keyboard.press("Tab")
        page.keyboard.type("/emai")
        expect(page.locator("#formula-suggestions")).to_contain_text("emails_sent")
        page.keyboard.type("ls_sent),0")
        # the live check shows the error until the formula is complete, then the value
        expect(page.locator("#formula-result")).to_contain_text("column")
        page.keyboard.type(")")
        expect(page.locator("#formula-result")).to_contain_text("25")
