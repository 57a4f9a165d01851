"""Admin pages render and their actions work (builders, test on a profile, activate, 360 panels)."""

import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from computed import services
from computed.models import ComputedAttribute
from computed.panels import computed_values_context

COUNT = {"function": "count", "event": "Order Completed"}


@pytest.fixture
def browser(client, admin_user):
    client.force_login(admin_user)
    return client


def test_changelist_and_add_form_render(browser):
    assert browser.get(reverse("admin:computed_computedattribute_changelist")).status_code == 200
    page = browser.get(reverse("admin:computed_computedattribute_add"))
    assert page.status_code == 200
    assert b"Custom formula builder" in page.content and b"date_diff" in page.content


def test_aggregate_builder_creates_a_draft(browser):
    response = browser.post(
        reverse("admin:computed_computedattribute_add"),
        {
            "key": "orders_30d",
            "name": "Orders (30 days)",
            "description": "",
            "kind": "aggregate",
            "function": "count",
            "event": "Order Completed",
            "filters": '[{"property": "payment", "op": "equals", "value": "card"}]',
            "period_type": "full_days",
            "period_value": "30",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    attribute = ComputedAttribute.objects.get(key="orders_30d")
    assert attribute.definition["period"] == {"type": "full_days", "value": 30}
    assert attribute.state == "draft"


def test_formula_errors_show_on_the_form(browser):
    response = browser.post(
        reverse("admin:computed_computedattribute_add"),
        {"key": "bad", "name": "Bad", "kind": "formula", "formula": "round(1,"},
    )
    assert response.status_code == 200
    assert b"column 9" in response.content


def test_test_on_profile_and_activate_pages(
    browser, make_person, make_event, django_capture_on_commit_callbacks
):
    person = make_person(first_name="Ann")
    make_event(person, "Order Completed")
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    change = reverse("admin:computed_computedattribute_change", args=[attribute.pk])
    assert browser.get(change).status_code == 200
    test_url = change.rstrip("/").rsplit("/", 1)[0] + "/test/"
    tested = browser.post(
        test_url, {"person": person.pk, "definition": '{"function": "count", "event": "Order Completed"}'}
    )
    assert tested.status_code == 200
    assert "Result: <code>1</code>" in tested.content.decode()
    assert "&quot;matched_events&quot;: 1" in tested.content.decode()
    # an edited definition is tried without saving it
    tried = browser.post(
        test_url, {"person": person.pk, "definition": '{"function": "exists", "event": "Nope"}'}
    )
    assert "Result: <code>False</code>" in tried.content.decode()
    attribute.refresh_from_db()
    assert attribute.definition == COUNT
    activate_url = change.rstrip("/").rsplit("/", 1)[0] + "/activate/"
    assert browser.get(activate_url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(activate_url)
    attribute.refresh_from_db()
    assert attribute.state == "active"
    # the Person 360 page renders with the computed sections, and the section shows the value
    page = browser.get(reverse("admin:people_person_change", args=[person.pk]))
    assert page.status_code == 200
    assert b"Computed attributes" in page.content and b"Purchase statistics" in page.content
    section = render_to_string("computed/panels/computed_values.html", computed_values_context(person, None))
    assert 'data-value="orders">1<' in section


def test_delete_in_use_shows_an_error(browser, db):
    orders = services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    services.computed_attribute_create(
        key="f", name="F", kind="formula", definition={"formula": "orders + 1"}
    )
    response = browser.post(
        reverse("admin:computed_computedattribute_delete", args=[orders.pk]), {"post": "yes"}, follow=True
    )
    assert b"in use" in response.content
    assert ComputedAttribute.objects.filter(pk=orders.pk).exists()


def test_detail_actions_confirm_then_say_what_they_did(browser, make_computed, admin_user):
    # given an active attribute and a draft formula that uses it
    orders = make_computed("orders", "aggregate", COUNT, activate=True)
    plus_one = make_computed("plus_one", "formula", {"formula": "orders + 1"})
    change = reverse("admin:computed_computedattribute_change", args=[orders.pk])
    base = change.rstrip("/").rsplit("/", 1)[0]
    # then each page shows what its attribute uses and where it is used
    assert "computed attribute &#x27;plus_one&#x27; (draft)" in browser.get(change).content.decode()
    plus_one_page = browser.get(reverse("admin:computed_computedattribute_change", args=[plus_one.pk]))
    uses = r'>Uses</label>\s*</div>\s*<div[^>]*>\s*<div class="readonly[^>]*>orders</div>'
    assert re.search(uses, plus_one_page.content.decode())
    # when disabling: a confirmation with its note, then the outcome
    confirm = browser.get(base + "/disable/").content.decode()
    assert "Values stay on the profiles but stop updating." in confirm
    assert "orders is disabled." in browser.post(base + "/disable/", follow=True).content.decode()
    refused = browser.post(base + "/disable/", follow=True).content.decode()
    assert "Only active attributes can be disabled; this one is disabled." in refused
    # when duplicating: a confirmation, then the copy's page naming it
    assert "Creates an editable draft copy." in browser.get(base + "/duplicate/").content.decode()
    copied = browser.post(base + "/duplicate/", follow=True)
    copy = ComputedAttribute.objects.get(key="orders_copy")
    assert (copy.state, copy.definition, copy.created_by) == ("draft", COUNT, admin_user)
    assert copied.redirect_chain[-1][0] == reverse("admin:computed_computedattribute_change", args=[copy.pk])
    assert "Created the draft orders_copy." in copied.content.decode()
    # when deleting one nothing uses: the list, saying so
    deleted = browser.post(
        reverse("admin:computed_computedattribute_delete", args=[plus_one.pk]), {"post": "yes"}, follow=True
    )
    assert deleted.redirect_chain[-1][0] == reverse("admin:computed_computedattribute_changelist")
    assert "Deleted plus_one and its values from every profile." in deleted.content.decode()
    assert not ComputedAttribute.objects.filter(pk=plus_one.pk).exists()


def test_activate_confirms_links_its_job_then_refuses_and_freezes_the_active_attribute(
    browser, make_computed, django_capture_on_commit_callbacks
):
    # given a draft attribute
    orders = make_computed("orders", "aggregate", COUNT)
    change = reverse("admin:computed_computedattribute_change", args=[orders.pk])
    base = change.rstrip("/").rsplit("/", 1)[0]
    assert 'name="key"' in browser.get(change).content.decode()
    # when activating: a confirmation with its note, then a link to the job that processes it
    assert "Every profile will be processed as a job." in browser.get(base + "/activate/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        started = browser.post(base + "/activate/", follow=True).content.decode()
    orders.refresh_from_db()
    job = orders.job
    assert (
        f'Processing started: <a href="/admin/people/job/{job.pk}/change/">follow job #{job.pk}</a>.'
        in started
    )
    # then activating again is refused with the reason, and key, name and kind are no longer inputs
    refused = browser.post(base + "/activate/", follow=True).content.decode()
    assert "Only draft or disabled attributes can be activated; this one is active." in refused
    page = browser.get(change).content.decode()
    assert not re.search(r'name="(key|name|description|kind)"', page)


def test_purchase_statistics_page(browser, django_capture_on_commit_callbacks):
    url = reverse("admin:computed_computedattribute_changelist") + "purchase-statistics/"
    assert browser.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(url, {"event": "Order Completed"})
    assert ComputedAttribute.objects.filter(group="purchase_statistics", state="active").count() == 31


@pytest.mark.parametrize(
    "field", ["formula", "event", "property", "filters", "period_value", "rank", "amount_property"]
)
def test_builder_inputs_are_drawn_with_a_visible_box(browser, field):
    # when the builder is opened
    html = browser.get(reverse("admin:computed_computedattribute_add")).content.decode()
    # then the field is an input with the admin's bordered style (it had no box before)
    tag = re.search(rf'<(?:input|textarea)[^>]*id="id_{field}"[^>]*>', html)
    assert tag is not None
    classes = re.search(r'class="([^"]*)"', tag.group(0)).group(1).split()
    assert "border" in classes and "rounded-default" in classes


def test_the_header_names_the_app_once(browser, db):
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    html = browser.get(
        reverse("admin:computed_computedattribute_change", args=[attribute.pk])
    ).content.decode()
    header = re.search(r"<h1.*?</h1>", html, re.S).group(0)
    crumbs = [re.sub(r"\s+", " ", t).strip() for t in re.findall(r"<a [^>]*>(.*?)</a\s*>", header, re.S)]
    assert crumbs == ["Computed", "Computed attributes", "Orders"]
