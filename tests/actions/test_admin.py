"""The actions admin: editor with inlines, state switch, duplicate, guarded delete, simulation,
analysis, reactions, delivery log with redelivery and the signing-key page."""

import pytest

from actions import services
from actions.models import Action, Reaction, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user, web):
    client.force_login(admin_user)
    return client


def management(prefix, total=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def form_data(**overrides):
    data = {
        "name": "Spring",
        "type": "springBanner",
        "tags": "home, spring",
        "state": "active",
        "channels": ["web"],
        "trait_conditions": '{"attribute": "first_name", "op": "is_not_empty"}',
        "context_conditions-count": "2",
        "context_conditions-0-channel": "web",
        "context_conditions-0-key": "page.path",
        "context_conditions-0-type": "text",
        "context_conditions-0-op": "in",
        "context_conditions-0-value": "/home, /sale",
        "context_conditions-1-key": "",
        **management("properties", 2),
        "properties-0-name": "title",
        "properties-0-kind": "template",
        "properties-0-value": "Hi {{first_name|there}}",
        "properties-0-value_type": "string",
        "properties-1-name": "title",
        "properties-1-channel": "app",
        "properties-1-kind": "text",
        "properties-1-value": "Hi",
        "properties-1-value_type": "string",
        **management("capping_rules", 1),
        "capping_rules-0-reaction": "declined",
        "capping_rules-0-group": "user",
        "capping_rules-0-count": "1",
        "capping_rules-0-within_days": "30",
        **management("hooks"),
        **management("test_users"),
    }
    data.update(overrides)
    return data


def test_editor_creates_an_action_with_its_tables(staff):
    page = staff.get("/admin/actions/action/add/")
    assert page.status_code == 200
    assert 'data-widget="context-conditions"' in page.content.decode()
    response = staff.post("/admin/actions/action/add/", form_data())
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    action = Action.objects.get()
    assert (action.tags, action.channels) == (["home", "spring"], ["web"])
    assert action.context_conditions == [
        {"channel": "web", "key": "page.path", "type": "text", "op": "in", "value": ["/home", "/sale"]}
    ]
    assert sorted(action.properties.values_list("channel", "value")) == [
        ("", "Hi {{first_name|there}}"),
        ("app", "Hi"),
    ]
    assert list(action.capping_rules.values_list("reaction", "count", "within_days")) == [("declined", 1, 30)]
    change = staff.get(f"/admin/actions/action/{action.pk}/change/").content.decode()
    assert 'value="page.path"' in change and 'value="/home, /sale"' in change


@pytest.mark.parametrize(
    "overrides,error",
    [
        ({"type": "Spring Banner"}, "Use camelCase"),
        (
            {"properties-0-value": "Hi {{first_name"},
            "template column 4: &#x27;{{&#x27; is not closed with &#x27;}}&#x27;",
        ),
        (
            {
                "context_conditions-0-type": "number",
                "context_conditions-0-op": "gt",
                "context_conditions-0-value": "abc",
            },
            "expected a number; got &#x27;abc&#x27;",
        ),
        (
            {"trait_conditions": '{"attribute": "nope", "op": "equals", "value": 1}'},
            "unknown attribute &#x27;nope&#x27;",
        ),
    ],
)
def test_editor_shows_errors_and_saves_nothing(staff, overrides, error):
    response = staff.post("/admin/actions/action/add/", form_data(**overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Action.objects.exists()


def test_state_switch_duplicate_and_guarded_delete(staff, make_action):
    action = make_action(name="Promo")
    page = staff.get(f"/admin/actions/action/{action.pk}/state/")
    assert "Promo is <b>Active</b>" in page.content.decode()
    staff.post(f"/admin/actions/action/{action.pk}/duplicate/")
    assert Action.objects.filter(name="Copy of Promo", state="inactive").exists()
    refused = staff.post(f"/admin/actions/action/{action.pk}/delete/", {"post": "yes"}, follow=True)
    assert "set it inactive before deleting it" in refused.content.decode()
    staff.post(f"/admin/actions/action/{action.pk}/state/", {"state": "inactive"})
    staff.post(f"/admin/actions/action/{action.pk}/delete/", {"post": "yes"})
    assert list(Action.objects.values_list("name", flat=True)) == ["Copy of Promo"]


def test_simulation_form_shows_each_step_and_why(staff, make_action, known):
    known("u1", first_name="Ada")
    action = make_action(trait_conditions={"attribute": "first_name", "op": "equals", "value": "Bob"})
    page = staff.post(
        f"/admin/actions/action/{action.pk}/simulate/",
        {"person": "u1", "channel": "web", "context": "page.path = /home"},
    )
    html = page.content.decode()
    assert "does not get this action" in html
    assert 'data-step="traits" data-state="failed"' in html
    assert "first_name equals &#x27;Bob&#x27; is false (the person has &#x27;Ada&#x27;)" in html
    missing = staff.post(
        f"/admin/actions/action/{action.pk}/simulate/", {"person": "nobody", "channel": "web"}
    )
    assert "No profile matches &#x27;nobody&#x27;." in missing.content.decode()
    bad = staff.post(
        f"/admin/actions/action/{action.pk}/simulate/", {"person": "u1", "channel": "web", "context": "oops"}
    )
    assert "line 1: expected key = value" in bad.content.decode()


def test_analysis_page_shows_counts_and_rates(staff, make_action, known):
    person = known("u1")
    action = make_action()
    Reaction.objects.bulk_create(
        [
            Reaction(action=action, person=person, channel="web", kind=k)
            for k in ["delivered"] * 4 + ["shown"] * 2 + ["accepted"]
        ]
    )
    html = staff.get(f"/admin/actions/action/{action.pk}/analysis/").content.decode()
    assert 'data-count="delivered">4<' in html
    assert 'data-rate="shown">50 %' in html
    assert 'data-reach="web"' in html
    assert "series-chart" in html
    bad = staff.get(
        f"/admin/actions/action/{action.pk}/analysis/?start=2026-02-01&end=2026-01-01&resolution=day"
    )
    assert "The end date is before the start date." in bad.content.decode()


def test_reactions_and_delivery_log_with_redeliver(
    staff, make_action, known, django_capture_on_commit_callbacks
):
    person = known("u1", first_name="Ada")
    action = make_action(name="Promo")
    Reaction.objects.create(action=action, person=person, channel="web", kind="shown")
    reactions = staff.get("/admin/actions/reaction/").content.decode()
    assert "Promo" in reactions and "Ada" in reactions
    delivery = WebhookDelivery.objects.create(
        action=action, event="accepted", url="http://127.0.0.1:9/x", body="{}", status="failed", attempts=6
    )
    log = staff.get("/admin/actions/webhookdelivery/").content.decode()
    assert "Failed (gave up)" in log
    with django_capture_on_commit_callbacks(execute=True):
        staff.get(f"/admin/actions/webhookdelivery/{delivery.pk}/redeliver/")
    assert WebhookDelivery.objects.count() == 2
    assert WebhookDelivery.objects.exclude(pk=delivery.pk).get().attempts == 1


def test_signing_key_page_rotates(staff, org):
    page = staff.get("/admin/actions/webhookdelivery/signing-key/").content.decode()
    assert "…kkkk" in page
    staff.post("/admin/actions/webhookdelivery/signing-key/", {"do": "rotate"})
    org.refresh_from_db()
    assert org.webhook_signing_key_previous == "k" * 64
    staff.post("/admin/actions/webhookdelivery/signing-key/", {"do": "finish"})
    org.refresh_from_db()
    assert org.webhook_signing_key_previous == ""


def test_person_360_shows_reactions(staff, make_action, known):
    person = known("u1")
    make_action(name="Promo")
    services.actions_for(person=person, channel="web")
    html = staff.get(f"/admin/people/person/{person.pk}/change/").content.decode()
    assert 'data-panel="action-reactions"' in html
    assert "Promo" in html and "Delivered" in html
