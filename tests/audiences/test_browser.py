"""The audience builder in a real Chromium: build an audience by clicking, see its live count, save,
activate, and see the members on the audience page."""

import os

import pytest

from audiences.models import Audience
from identity.models import IdentifierType, Identity
from people.models import Person
from tests.browser import login
from tests.browser import pytestmark as browser_marks

pytestmark = [pytest.mark.slow, *browser_marks]


def known_people(*people: dict) -> None:
    """People (``Person`` fields) each with a known identifier."""
    id_type, _ = IdentifierType.objects.get_or_create(key="user_id", defaults={"priority": 1})
    for fields in people:
        person = Person.objects.create(last_name="Test", **fields)
        Identity.objects.create(type=id_type, value=f"u{person.pk}", person=person)


def new_audience(page, live_server, user) -> None:
    """Logged in, on the empty audience form."""
    login(page, live_server, user)
    page.goto(f"{live_server.url}/admin/audiences/audience/add/")


def add_attribute_leaf(page, attribute: str, op: str) -> None:
    page.click("[data-cb=add-attribute]")
    page.select_option("[data-cb=attribute]", attribute)
    page.select_option("[data-cb=op]", op)


def expect_live_count(page, count: str, sampled: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("[data-cb-count]")).to_have_text(count)
    expect(page.locator("[data-cb-sample]")).to_contain_text(sampled)


@pytest.mark.django_db(transaction=True)
def test_build_count_save_activate_and_see_members(page, live_server, admin_user):
    from playwright.sync_api import expect

    # given three known people, two of them in Germany
    known_people(
        {"first_name": "Ada", "country": "DE"},
        {"first_name": "Grace", "country": "DE"},
        {"first_name": "Linus", "country": "FI"},
    )
    # when: the marketer builds "country is DE" by clicking
    new_audience(page, live_server, admin_user)
    page.fill("input[name=key]", "germans")
    page.fill("input[name=name]", "Germans")
    add_attribute_leaf(page, "country", "equals")
    page.fill("[data-cb=value]", "de")
    # then: the live count and sample
    expect_live_count(page, "2 matching people", "Ada Test")
    # when: saved and activated
    page.click("button[name=_continue]")
    audience = Audience.objects.get(key="germans")
    assert audience.definition == {
        "condition": {"and": [{"attribute": "country", "op": "equals", "value": "de"}]}
    }
    page.goto(f"{live_server.url}/admin/audiences/audience/{audience.pk}/activate/")
    page.click("[data-confirm=Activate]")
    # then: the audience page lists the members, linked to their 360 pages
    page.goto(f"{live_server.url}/admin/audiences/audience/{audience.pk}/change/")
    members = page.locator("[data-section=members]")
    expect(members).to_contain_text("Members (2)")
    expect(members).to_contain_text("Ada Test")
    expect(members).to_contain_text("Grace Test")
    expect(members).not_to_contain_text("Linus")
    ada = Person.objects.get(first_name="Ada")
    expect(members.locator(f"a[href='/admin/people/person/{ada.pk}/change/']")).to_have_count(1)
    # and explain for a chosen person
    linus = Person.objects.get(first_name="Linus")
    page.fill("#explain input[name=explain]", str(linus.pk))
    page.click("#explain button[type=submit]")
    expect(page.locator("[data-explain=verdict]")).to_contain_text("does not match the definition now")
    expect(page.locator("[data-explain-step]").first).to_contain_text("(is FI)")
    if os.environ.get("ATTUNE_SCREENSHOTS"):
        page.screenshot(path=os.environ["ATTUNE_SCREENSHOTS"] + "/audience_page.png", full_page=True)


@pytest.mark.django_db(transaction=True)
def test_build_a_funnel_with_a_did_not_step_in_the_middle(page, live_server, admin_user):
    from playwright.sync_api import expect

    new_audience(page, live_server, admin_user)
    page.fill("input[name=key]", "viewed_not_carted")
    page.fill("input[name=name]", "Viewed, not carted, mailed")
    page.check("input[name=type][value=funnel]")
    # when: "Product Viewed, then did not Product Added within 2 hours, then Email Received"
    page.click("[data-cb=add-step]")
    events = page.locator("[data-cb=event]")
    events.nth(0).fill("Product Viewed")
    events.nth(1).fill("Product Added")
    events.nth(2).fill("Email Received")
    page.check("[data-cb-step='1'] [data-cb=did-not]")
    page.check("[data-cb-step='1'] [data-cb=within]")
    page.fill("[data-cb-step='1'] [data-cb=within-value]", "2")
    expect(page.locator("[data-cb-count]")).to_have_text("0 matching people")
    page.click("button[name=_continue]")
    # then: saved with the "did not" on the middle step
    assert Audience.objects.get(key="viewed_not_carted").definition == {
        "steps": [
            {"event": "Product Viewed", "filters": [], "window": {"type": "any"}},
            {
                "event": "Product Added",
                "filters": [],
                "did_not": True,
                "within": {"value": 2, "unit": "hours"},
            },
            {"event": "Email Received", "filters": []},
        ]
    }


@pytest.mark.django_db(transaction=True)
def test_build_a_list_attribute_condition_by_clicking(page, live_server, admin_user):
    from datetime import UTC, datetime, timedelta

    from people.models import AttributeDefinition

    # given people with loans, one due in three days
    AttributeDefinition.objects.create(
        key="loans",
        label="Loans",
        type="list",
        item_schema=[{"key": "due_date", "type": "date"}, {"key": "amount", "type": "decimal"}],
    )
    today = datetime.now(UTC).date()
    known_people(
        *(
            {"first_name": name, "custom": {"loans": [{"due_date": due.isoformat(), "amount": 10}]}}
            for name, due in [("Ada", today + timedelta(days=3)), ("Grace", today + timedelta(days=30))]
        )
    )
    # when: "loans: any item whose due date is within the next 7 days"
    new_audience(page, live_server, admin_user)
    add_attribute_leaf(page, "loans", "any")
    page.click("[data-cb=add-item-condition]")
    page.select_option("[data-cb=item-field]", "due_date")
    page.select_option("[data-cb=list-items] [data-cb=op]", "within_next_days")
    page.fill("[data-cb=list-items] [data-cb=value]", "7")
    # then
    expect_live_count(page, "1 matching person", "Ada Test")


RULES_PAGE = (
    """<html><body>{widget}<script src="/static/people/conditions/builder.js"></script></body></html>"""
)


@pytest.mark.django_db(transaction=True)
def test_the_widget_edits_scoring_rules(page, live_server, admin_user):
    """``ConditionBuilderWidget(mode="rules")``: what computed's scoring rules can use."""
    from playwright.sync_api import expect

    from people.conditions import check
    from people.widgets import ConditionBuilderWidget

    widget = ConditionBuilderWidget(mode="rules").render(
        "rules",
        [{"label": "Buyer", "points": 10, "condition": {"event": "Order Completed"}}],
        {"id": "id_rules"},
    )
    login(page, live_server, admin_user)
    page.set_content(RULES_PAGE.format(widget=widget))
    expect(page.locator("[data-cb=rule-label]")).to_have_value("Buyer")
    # when: a second rule "-5 points when country is DE", by clicking
    page.click("[data-cb=add-rule]")
    page.locator("[data-cb=rule-label]").nth(1).fill("German")
    page.locator("[data-cb=rule-points]").nth(1).fill("-5")
    page.locator("[data-cb-rule='1'] [data-cb=add-attribute]").click()
    page.locator("[data-cb-rule='1'] [data-cb=attribute]").select_option("country")
    page.locator("[data-cb-rule='1'] [data-cb=value]").fill("DE")
    # then: the field holds both rules, each a valid condition
    import json

    rules = json.loads(page.locator("textarea[name=rules]").input_value())
    assert [(r["label"], r["points"]) for r in rules] == [("Buyer", 10), ("German", -5)]
    assert rules[1]["condition"] == {"and": [{"attribute": "country", "op": "equals", "value": "DE"}]}
    for rule in rules:
        check(rule["condition"])
