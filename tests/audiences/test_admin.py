"""The audience admin pages over HTTP: every state renders, actions run, the builder's preview and
metadata endpoints answer, the Person 360 page shows memberships and the timeline."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from audiences import services
from audiences.models import Audience

GERMANS = {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}


@pytest.fixture
def browser(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def ann(make_person, known):
    return known(make_person(first_name="Ann", last_name="Lee", country="DE", email="ann@example.com"))


def test_pages_render_in_every_state(browser, ann, make_audience, django_capture_on_commit_callbacks):
    draft = make_audience("draft_one", GERMANS)
    active = make_audience("germans", GERMANS, activate=True)
    copy = services.audience_duplicate(audience=active, key="copy")
    services.audience_update(
        audience=copy, definition={"condition": {"attribute": "country", "op": "equals", "value": "FR"}}
    )
    disabled = services.audience_disable(audience=make_audience("off", GERMANS, activate=True))
    for audience in (draft, active, copy, disabled):
        page = browser.get(reverse("admin:audiences_audience_change", args=[audience.pk]))
        assert page.status_code == 200, audience.key
    active_page = browser.get(reverse("admin:audiences_audience_change", args=[active.pk])).content.decode()
    assert "Members (1)" in active_page and "Ann Lee" in active_page
    assert f'href="/admin/people/person/{ann.pk}/change/"' in active_page
    # the last refresh's duration reads as a person would say it (ms under a second)
    active.refresh_from_db()
    took = f"{active.last_refresh_seconds * 1000:.0f} ms"
    assert re.search(rf"Last refresh took.*?{took}", active_page, re.S)
    copy_page = browser.get(reverse("admin:audiences_audience_change", args=[copy.pk])).content.decode()
    assert "Impact against germans (1 members)" in copy_page
    assert 'data-impact="added">+0' in copy_page and 'data-impact="removed">−1' in copy_page
    assert browser.get(reverse("admin:audiences_audience_changelist")).status_code == 200
    assert browser.get(reverse("admin:audiences_audience_add")).status_code == 200


def test_explain_on_the_audience_page(browser, ann, make_audience):
    audience = make_audience("germans", GERMANS, activate=True)
    url = reverse("admin:audiences_audience_change", args=[audience.pk])
    page = browser.get(url, {"explain": ann.pk}).content.decode()
    assert "matches the definition now" in page and "and is a member" in page
    assert "country equals DE (is DE)" in page
    missing = browser.get(url, {"explain": "nobody"}).content.decode()
    assert "No profile with id &#x27;nobody&#x27;." in missing


def test_activate_refresh_disable_and_duplicate_actions(
    browser, ann, make_audience, django_capture_on_commit_callbacks
):
    audience = make_audience("germans", GERMANS)
    base = reverse("admin:audiences_audience_change", args=[audience.pk]).rstrip("/").rsplit("/", 1)[0]
    assert browser.get(base + "/activate/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(base + "/activate/")
    audience.refresh_from_db()
    assert (audience.state, audience.member_count) == ("active", 1)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(base + "/refresh/")
    assert Audience.objects.get(pk=audience.pk).version == 2
    response = browser.post(base + "/duplicate/", follow=True)
    assert Audience.objects.filter(duplicated_from=audience).count() == 1 and response.status_code == 200
    browser.post(base + "/disable/")
    assert Audience.objects.get(pk=audience.pk).state == "disabled"
    # refreshing a disabled audience is refused with a message, not a 500
    refused = browser.post(base + "/refresh/", follow=True)
    assert "only an active audience can be refreshed" in refused.content.decode()


def test_detail_actions_confirm_with_their_note_then_say_what_they_did(
    browser, make_audience, django_capture_on_commit_callbacks
):
    audience = make_audience("germans", GERMANS)
    base = reverse("admin:audiences_audience_change", args=[audience.pk]).rstrip("/").rsplit("/", 1)[0]
    notes = {
        "activate": "Every profile will be evaluated as a job.",
        "duplicate": "Creates an editable draft; it shows +N / −M against this one.",
        "disable": "It stops updating and no longer counts anywhere.",
    }
    for verb, note in notes.items():
        assert note in browser.get(f"{base}/{verb}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        started = browser.post(base + "/activate/", follow=True).content.decode()
    job = Audience.objects.get(pk=audience.pk).job
    assert (
        f'Processing started: <a href="/admin/people/job/{job.pk}/change/">follow job #{job.pk}</a>.'
        in started
    )
    duplicated = browser.post(base + "/duplicate/", follow=True).content.decode()
    copy = Audience.objects.get(duplicated_from=audience)
    assert f"Created the draft {copy.key}." in duplicated
    assert "germans is disabled." in browser.post(base + "/disable/", follow=True).content.decode()
    deleted = browser.post(
        reverse("admin:audiences_audience_delete", args=[copy.pk]), {"post": "yes"}, follow=True
    )
    assert deleted.redirect_chain[-1][0] == reverse("admin:audiences_audience_changelist")
    assert f"Deleted the audience {copy.key}; its key will not be reused." in deleted.content.decode()


def test_delete_in_use_is_refused_with_where(browser, make_audience):
    base = make_audience("germans", GERMANS, activate=True)
    make_audience("nested", {"condition": {"attribute": "audience:germans", "op": "equals", "value": True}})
    response = browser.post(
        reverse("admin:audiences_audience_delete", args=[base.pk]), {"post": "yes"}, follow=True
    )
    assert "is used by audience &#x27;nested&#x27;" in response.content.decode()
    assert Audience.objects.filter(pk=base.pk).exists()


def test_create_through_the_form_with_a_bad_definition_shows_the_path(browser):
    response = browser.post(
        reverse("admin:audiences_audience_add"),
        {
            "key": "bad",
            "name": "Bad",
            "type": "rules",
            "definition": json.dumps({"condition": {"attribute": "nope", "op": "equals", "value": 1}}),
        },
    )
    assert response.status_code == 200
    assert "definition.condition.attribute: unknown attribute &#x27;nope&#x27;" in response.content.decode()
    assert not Audience.objects.exists()


@pytest.mark.parametrize(
    "body,status,key",
    [
        (b"not json", 400, "definition"),
        (b"[]", 400, "definition"),
        (json.dumps({"definition": {"condition": {"or": [1]}}}).encode(), 400, "definition.condition.or[0]"),
        (json.dumps({"type": "funnel", "definition": {"steps": []}}).encode(), 400, "definition.steps"),
        (json.dumps({"definition": GERMANS}).encode(), 200, "count"),
    ],
)
def test_builder_preview_endpoint(browser, ann, body, status, key):
    response = browser.post(
        reverse("admin:audiences_audience_preview"), body, content_type="application/json"
    )
    assert response.status_code == status
    assert key in response.json()


def test_builder_metadata_lists_what_exists(browser, ann, make_event, make_audience):
    make_event(ann, "Order Completed", properties={"amount": 3})
    make_audience("germans", GERMANS)
    meta = browser.get(reverse("condition-metadata")).json()
    keys = {a["key"]: a for a in meta["attributes"]}
    assert keys["country"]["type"] == "text" and keys["audience:germans"]["type"] == "boolean"
    assert "Order Completed" in [e["name"] for e in meta["events"]]
    assert meta["operators"]["number"][:2] == ["equals", "not_equals"]
    assert Client().get(reverse("condition-metadata")).status_code == 302  # staff only


def test_export_view_streams_csv(browser, ann, make_audience):
    audience = make_audience("germans", GERMANS, activate=True)
    response = browser.get(
        reverse("admin:audiences_audience_export", args=[audience.pk]),
        {"columns": ["uid"], "attributes": "first_name"},
    )
    assert b"".join(response.streaming_content).decode().splitlines() == ["uid,first_name", f"{ann.uid},Ann"]
    bad = browser.get(
        reverse("admin:audiences_audience_export", args=[audience.pk]), {"attributes": "nope"}, follow=True
    )
    assert "unknown column &#x27;nope&#x27;" in bad.content.decode()


def test_person_360_shows_memberships_and_timeline(
    browser, ann, make_audience, django_capture_on_commit_callbacks
):
    from people.services import AttributeWrite, person_write_attributes

    germans = make_audience("germans", GERMANS, activate=True)
    make_audience(
        "french", {"condition": {"attribute": "country", "op": "equals", "value": "FR"}}, activate=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        person_write_attributes(person=ann, writes=[AttributeWrite("country", "FR")])
    page = browser.get(reverse("admin:people_person_change", args=[ann.pk])).content.decode()
    assert 'data-panel="audiences"' in page
    assert "French" in page and f"?explain={ann.pk}#explain" in page
    assert "<strong>Exited</strong>" in page and "<strong>Entered</strong>" in page
    assert germans.name in page
    # why, per active audience
    assert 'data-explain-audience="germans"' in page
    why = page[page.index('data-explain-audience="germans"') :]
    assert "not a member" in why[:600] and "country equals DE (is FR)" in why[:1500]
