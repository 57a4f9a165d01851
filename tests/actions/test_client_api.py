"""The client actions API over HTTP: answers, delivered logging, acts, suppression and bad input."""

import base64
import json
import urllib.error
import urllib.request

import pytest

from actions.models import Action, Reaction
from identity.models import Identity
from people.models import Person
from tests.actions.conftest import basic

pytestmark = pytest.mark.django_db


def banner(**overrides):
    fields = {
        "name": "Hello",
        "type": "banner",
        "tags": ["home"],
        "properties": [
            {"name": "title", "kind": "template", "value": "Hi {{first_name|there}}!"},
            {"name": "title", "channel": "app", "kind": "text", "value": "Hi (app)"},
            {"name": "cta", "kind": "text", "value": "Shop now"},
            {
                "name": "points",
                "kind": "trait",
                "attribute": "loyalty_points",
                "value_type": "integer",
                "fallback": "0",
            },
        ],
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def points(db):
    from people.models import AttributeDefinition

    AttributeDefinition.objects.create(key="loyalty_points", label="Points", type="decimal")
    AttributeDefinition.objects.create(
        key="payments",
        label="Payments",
        type="list",
        item_schema=[{"key": "amount", "type": "decimal"}, {"key": "due", "type": "date"}],
    )


def test_post_returns_personalized_actions_and_logs_them_delivered(api, make_action, known, points):
    # given
    person = known(first_name="Ada", loyalty_points=12.0)
    action = make_action(**banner())
    # when
    response = api.post("/v1/actions", {"userId": "u1", "type": "banner", "tags": ["home"], "context": {}})
    # then
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": action.pk,
            "type": "banner",
            "tags": ["home"],
            "properties": {"title": "Hi Ada!", "cta": "Shop now", "points": 12},
        }
    ]
    delivered = Reaction.objects.get()
    assert (delivered.person_id, delivered.kind, delivered.channel) == (person.pk, "delivered", "web")
    person.refresh_from_db()
    assert person.last_contacted_at == delivered.created_at


@pytest.fixture
def real_cache(settings):
    """Django's memory cache (the tests' default is a dummy that keeps nothing)."""
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "actions-tests"}
    settings.CACHES = {**settings.CACHES, "default": local}


def test_last_contacted_is_recorded_once_a_minute_per_person_and_channel(api, make_action, known, real_cache):
    # given: a delivery that recorded the contact
    person = known()
    make_action(**banner(properties=[]))
    api.post("/v1/actions", {"userId": "u1"})
    first = Reaction.objects.get().created_at
    # when: the person gets the action again within the minute
    api.post("/v1/actions", {"userId": "u1"})
    # then: both deliveries are logged, the contact time stays at the first
    person.refresh_from_db()
    assert Reaction.objects.filter(kind="delivered").count() == 2
    assert person.last_contacted_at == first


def test_an_ask_that_delivers_nothing_records_no_contact(api, make_action, known, real_cache):
    # given: an action capped at one delivery per person, delivered once; the contact then forgotten
    from django.core.cache import cache

    from people.models import PendingChange

    person = known()
    make_action(
        **banner(properties=[], capping_rules=[{"reaction": "delivered", "group": "user", "count": 1}])
    )
    assert len(api.post("/v1/actions", {"userId": "u1"}).json()) == 1
    cache.clear()
    Person.objects.filter(pk=person.pk).update(last_contacted_at=None)
    person.channel_contacts.all().delete()
    PendingChange.objects.all().delete()
    # when: the person asks again and the cap hides the action
    assert api.post("/v1/actions", {"userId": "u1"}).json() == []
    # then: no contact, no pending refresh
    person.refresh_from_db()
    assert person.last_contacted_at is None
    assert not person.channel_contacts.exists()
    assert not PendingChange.objects.exists()


@pytest.fixture
def ten_capped_actions(make_action, known):
    """Ada, a member of an audience, and ten actions for her: trait conditions, the audience, a
    per-person cap on delivered."""
    from audiences.models import Audience, AudienceMembership

    ada = known(first_name="Ada")
    audience = Audience.objects.create(key="fans", name="Fans", state="active", version=2)
    AudienceMembership.objects.create(audience=audience, version=2, person=ada)
    for n in range(10):
        make_action(
            **banner(
                name=f"b{n}",
                properties=[{"name": "title", "kind": "template", "value": "Hi {{first_name|there}}!"}],
                trait_conditions={"attribute": "first_name", "op": "is_not_empty"},
                audience_ids=[audience.pk],
                capping_rules=[{"reaction": "delivered", "group": "user", "count": 100}],
            )
        )
    return ada


@pytest.mark.postgres  # the raw-SQL path; SQLite keeps the ORM's
def test_a_first_request_reads_and_writes_in_a_fixed_number_of_statements(
    api, client, web, known, ten_capped_actions, real_cache, django_assert_num_queries
):
    # given: the definitions compiled by another member's request
    from audiences.models import AudienceMembership
    from people.models import PendingChange, Person

    AudienceMembership.objects.create(
        audience_id=Action.objects.get(name="b0").audience_ids[0],
        version=2,
        person=known("u2", first_name="Bo"),
    )
    assert len(api.post("/v1/actions", {"userId": "u2"}).json()) == 10
    # when / then: source with the person, their identifiers, suppression and audiences; the privacy
    # filter (one statement prepared by people.rawsql.select_prepared); the capping counts with the
    # insert, last contacted and the person's pending refresh in one statement (no transaction),
    # whatever the number of actions
    with django_assert_num_queries(3):
        response = client.generic(
            "POST",
            "/v1/actions",
            json.dumps({"userId": "u1"}).encode(),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(web.write_key),
        )
    assert len(response.json()) == 10
    ada = Person.objects.get(pk=ten_capped_actions.pk)
    assert ada.last_contacted_at is not None
    assert list(ada.channel_contacts.values_list("channel__key", flat=True)) == ["web"]
    assert list(PendingChange.objects.filter(person_id=ada.pk).values_list("reason", flat=True)) == [
        "contact"
    ]


@pytest.mark.postgres  # the raw-SQL path; SQLite keeps the ORM's
def test_a_known_persons_request_reads_in_a_fixed_number_of_statements(
    api, ten_capped_actions, real_cache, django_assert_num_queries
):
    # given: a first request compiled the definitions and recorded the contact
    api.post("/v1/actions", {"userId": "u1"})
    # when / then: source with the person, their identifiers, suppression and audiences; the privacy
    # filter; capping counts with the insert: no lock for per-person caps on delivered, no
    # transaction for one write (exactly: prepared statements are logged too)
    with django_assert_num_queries(3):
        assert len(api.post("/v1/actions", {"userId": "u1"}).json()) == 10


@pytest.mark.postgres  # the raw-SQL path; SQLite keeps the ORM's
def test_an_act_runs_in_a_fixed_number_of_statements(api, ten_capped_actions, django_assert_num_queries):
    action = Action.objects.get(name="b3")
    api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "hide"})
    # source with the person; the privacy filter; the insert (no transaction for one write)
    with django_assert_num_queries(3):
        response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "show"})
    assert response.json() == {"success": True, "reaction": "shown"}


@pytest.mark.postgres  # the raw-SQL path; SQLite keeps the ORM's
def test_the_audiences_read_with_the_person_are_the_audiences_selector(known, web):
    # given: Ada in the current version of an active audience, in an older version of another, and
    # in an inactive audience
    from actions import services
    from audiences.models import Audience, AudienceMembership
    from audiences.selectors import member_audience_ids

    ada = known()
    current = Audience.objects.create(key="a", name="A", state="active", version=3)
    refreshed = Audience.objects.create(key="b", name="B", state="active", version=5)
    inactive = Audience.objects.create(key="c", name="C", state="inactive", version=1)
    AudienceMembership.objects.bulk_create(
        [
            AudienceMembership(audience=current, version=3, person=ada),
            AudienceMembership(audience=refreshed, version=4, person=ada),
            AudienceMembership(audience=inactive, version=1, person=ada),
        ]
    )
    # when
    resolved = services.person_resolve(source=web.source, user_id="u1", anonymous_id=None)
    # then
    assert resolved.person == ada
    assert resolved.audience_ids == member_audience_ids(person_id=ada.pk) == {current.pk}


def test_a_delivery_is_what_the_person_360_shows(api, make_action, known, client, admin_user):
    # given
    from django.urls import reverse

    from people.models import PersonChannelContact
    from tests.people.test_profile_360 import _titles

    person = known()
    first = make_action(**banner(name="Spring", properties=[]))
    second = make_action(**banner(name="Summer", properties=[]))
    # when
    answered = api.post("/v1/actions", {"userId": "u1"}).json()
    # then: the actions answered are the delivered reactions; the contact time is their time
    assert [a["id"] for a in answered] == [first.pk, second.pk]
    delivered = list(Reaction.objects.filter(person=person).order_by("action_id"))
    assert [(r.action_id, r.kind, r.channel) for r in delivered] == [
        (first.pk, "delivered", "web"),
        (second.pk, "delivered", "web"),
    ]
    person.refresh_from_db()
    assert person.last_contacted_at == delivered[0].created_at == delivered[1].created_at
    web_contact = PersonChannelContact.objects.get(person=person)
    assert (web_contact.channel.key, web_contact.last_contacted_at) == ("web", person.last_contacted_at)
    client.force_login(admin_user)
    titles = _titles(client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode())
    assert sorted(t for t in titles if t.startswith(("reactions", "contacts"))) == [
        "contacts: Last contacted on Web",
        "reactions: Delivered: Spring",
        "reactions: Delivered: Summer",
    ]


def test_a_disabled_write_key_is_refused_at_once(api, client, web, known):
    from people.models import Source

    known()
    assert api.post("/v1/actions", {"userId": "u1"}).status_code == 200
    # disabled as the admin does it (a save: identity's per-process cache of sources is renewed)
    source = Source.objects.get(pk=web.source.pk)
    source.enabled = False
    source.save(update_fields=["enabled"])
    response = api.post("/v1/actions", {"userId": "u1"})
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_write_key", "message": "Unknown or disabled write key."}
    assert api.get("/v1/actions", userId="u1").status_code == 401


def test_get_form_with_fallbacks_and_the_app_channel_value(client, app_source, make_action, known, points):
    # given: a person without a first name or points, asking on the app channel
    known()
    make_action(**banner(channels=["web", "app"]))
    auth = "Basic " + base64.b64encode(f"{app_source.write_key}:".encode()).decode()
    # when
    response = client.get("/v1/actions", {"userId": "u1", "tags": "home"}, HTTP_AUTHORIZATION=auth)
    # then
    assert response.status_code == 200
    assert response.json()[0]["properties"] == {"title": "Hi (app)", "cta": "Shop now", "points": 0}
    assert Reaction.objects.get().channel == "app"


def test_list_attribute_items_in_a_template(api, make_action, known, points):
    # given: three of four payments are shown
    payments = [
        {"amount": 10, "due": "2026-07-01"},
        {"amount": 20.5, "due": "2026-08-01"},
        {"amount": 30, "due": "2026-09-01"},
        {"amount": 40, "due": "2026-10-01"},
    ]
    known(first_name="Ada", payments=payments)
    template = (
        "Next: {{payments.0.amount}} on {{payments.0.due}}. "
        "{{#each payments 3}}{{@number}}) {{amount}} due {{due|?}}; {{/each}}"
    )
    make_action(**banner(properties=[{"name": "text", "kind": "template", "value": template}]))
    # when
    response = api.post("/v1/actions", {"userId": "u1"})
    # then
    assert response.json()[0]["properties"]["text"] == (
        "Next: 10 on 2026-07-01. 1) 10 due 2026-07-01; 2) 20.5 due 2026-08-01; 3) 30 due 2026-09-01; "
    )


def test_unknown_anonymous_id_gets_a_profile_as_in_tracking(api, make_action):
    make_action(**banner(properties=[]))
    response = api.post("/v1/actions", {"anonymousId": "anon-7"})
    assert response.status_code == 200
    assert len(response.json()) == 1
    assert (
        Identity.objects.get(type__key="anonymous_id", value="anon-7").person_id
        == Reaction.objects.get().person_id
    )


def test_read_only_source_does_not_create_people(client, make_source, make_action, web):
    from tests.factories import make_channel

    read_only = make_source("RO", channel=make_channel("web"), protection="read_only")
    make_action(**banner(properties=[]))
    auth = "Basic " + base64.b64encode(f"{read_only.write_key}:".encode()).decode()
    response = client.post(
        "/v1/actions", {"userId": "nobody"}, content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200
    assert response.json() == []
    assert not Person.objects.exists()


def test_suppressed_person_gets_nothing_and_acts_are_refused(api, make_action, known, web):
    # given: the person's email (not the asked id) is suppressed
    from identity.services import identifier_suppress, ingest_batch

    person = known(first_name="Ada")
    message = {"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com"}, "messageId": "m-e"}
    ingest_batch(source=web.source, messages=[message])
    assert Identity.objects.filter(person=person, type__key="email").exists()
    action = make_action(**banner(properties=[]))
    identifier_suppress(type_key="email", value="ada@example.com")
    # when
    listed = api.post("/v1/actions", {"userId": "u1"})
    acted = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "show"})
    # then
    assert listed.status_code == 200 and listed.json() == []
    assert acted.status_code == 403
    assert acted.json() == {
        "code": "suppressed",
        "message": "This person is suppressed; nothing was recorded.",
    }
    assert not Reaction.objects.filter(person=person).exists()


def test_privacy_filters_suppress_too(api, make_action, known):
    from identity import extensions

    known()
    make_action(**banner(properties=[]))
    extensions.register_message_filter(
        "test", lambda idents: {i: "erased" for i in idents if i == ("user_id", "u1")}
    )
    try:
        assert api.post("/v1/actions", {"userId": "u1"}).json() == []
    finally:
        extensions.message_filters.pop("test")


@pytest.mark.parametrize(
    "event,kind", [("show", "shown"), ("hide", "hidden"), ("decline", "declined"), ("accept", "accepted")]
)
def test_act_records_the_reaction(api, make_action, known, event, kind):
    person = known()
    action = make_action(**banner(properties=[]))
    response = api.post(
        "/v1/actions/act",
        {
            "actionId": action.pk,
            "userId": "u1",
            "event": event,
            "context": {"page": "/"},
            "properties": {"x": 1},
        },
    )
    assert response.status_code == 200
    assert response.json() == {"success": True, "reaction": kind}
    reaction = Reaction.objects.get()
    assert (reaction.person_id, reaction.kind, reaction.channel, reaction.properties) == (
        person.pk,
        kind,
        "web",
        {"x": 1},
    )


def test_act_on_unknown_action_is_404(api, known):
    known()
    response = api.post("/v1/actions/act", {"actionId": 999999, "userId": "u1", "event": "show"})
    assert response.status_code == 404
    assert response.json() == {"code": "action_not_found", "message": "There is no action 999999."}


def test_accept_of_an_action_the_person_may_not_have_is_403(api, make_action, known):
    known(first_name="Bob")
    action = make_action(
        **banner(properties=[], trait_conditions={"attribute": "first_name", "op": "equals", "value": "Ada"})
    )
    response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert response.status_code == 403
    assert response.json() == {
        "code": "not_allowed_traits",
        "message": "The person may not accept this action: "
        "first_name equals 'Ada' is false (the person has 'Bob').",
    }
    assert not Reaction.objects.exists()


def test_accept_rechecks_state(api, make_action, known):
    from actions import services

    known()
    action = make_action(**banner(properties=[]))
    services.action_set_state(action=action, state="inactive")
    response = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed_state"


def test_accept_capping_rule(api, make_action, known):
    known()
    action = make_action(
        **banner(properties=[], capping_rules=[{"reaction": "accepted", "group": "user", "count": 1}])
    )
    first = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    second = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    assert first.status_code == 200
    assert second.status_code == 403
    assert (
        second.json()["message"]
        == "The person may not accept this action: 1 accepted by this person ever (limit 1)."
    )
    assert Reaction.objects.filter(kind="accepted").count() == 1


def test_per_user_capping_counts_merged_profiles_and_every_channel(api, make_action, known, web):
    # given: a delivery logged on the app channel for a profile later merged into u1's
    person = known()
    other = Person.objects.create()
    other.merged_into = person
    other.save()
    action = make_action(
        **banner(
            properties=[],
            channels=["web", "app"],
            capping_rules=[{"reaction": "delivered", "group": "user", "count": 1}],
        )
    )
    Reaction.objects.create(action=action, person=other, channel="app", kind="delivered")
    # when / then
    assert api.post("/v1/actions", {"userId": "u1"}).json() == []


def test_accept_capping_counts_merged_profiles_not_other_people(api, make_action, known):
    # given: an accept by a profile merged into u1's, and two by someone else
    person = known()
    other = Person.objects.create(merged_into=person)
    stranger = Person.objects.create()
    action = make_action(
        **banner(properties=[], capping_rules=[{"reaction": "accepted", "group": "user", "count": 2}])
    )
    Reaction.objects.create(action=action, person=other, channel="web", kind="accepted")
    for _ in range(2):
        Reaction.objects.create(action=action, person=stranger, channel="web", kind="accepted")
    # when: u1 accepts twice
    first = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    second = api.post("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    # then: the merged profile's accept counts, the stranger's do not
    assert first.status_code == 200
    assert second.json()["message"] == (
        "The person may not accept this action: 2 accepted by this person ever (limit 2)."
    )


def test_rule_channels_limit_what_is_counted(api, make_action, known):
    person = known()
    action = make_action(
        **banner(
            properties=[],
            capping_rules=[{"reaction": "delivered", "group": "user", "count": 1, "channels": ["app"]}],
        )
    )
    Reaction.objects.create(action=action, person=person, channel="web", kind="delivered")
    assert len(api.post("/v1/actions", {"userId": "u1"}).json()) == 1


def test_within_days_window(api, make_action, known):
    from datetime import timedelta

    from django.utils import timezone

    person = known()
    action = make_action(
        **banner(
            properties=[],
            capping_rules=[{"reaction": "delivered", "group": "user", "count": 1, "within_days": 7}],
        )
    )
    old = Reaction.objects.create(action=action, person=person, channel="web", kind="delivered")
    Reaction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert len(api.post("/v1/actions", {"userId": "u1"}).json()) == 1
    assert api.post("/v1/actions", {"userId": "u1"}).json() == []


def test_global_cap(api, make_action, known):
    known("u1")
    known("u2")
    make_action(
        **banner(properties=[], capping_rules=[{"reaction": "delivered", "group": "all", "count": 1}])
    )
    assert len(api.post("/v1/actions", {"userId": "u1"}).json()) == 1
    assert api.post("/v1/actions", {"userId": "u2"}).json() == []


def test_actions_sharing_conditions_are_each_answered(api, make_action, known):
    # given: equal trait and context conditions on several actions (checked once per request) beside
    # different ones
    known(first_name="Ada")
    home = [{"key": "page.path", "type": "text", "op": "equals", "value": "/home"}]
    cart = [{"key": "page.path", "type": "text", "op": "equals", "value": "/cart"}]
    ada = {"attribute": "first_name", "op": "equals", "value": "Ada"}
    bo = {"attribute": "first_name", "op": "equals", "value": "Bo"}
    made = {
        name: make_action(**banner(name=name, properties=[], **fields)).pk
        for name, fields in {
            "home 1": {"context_conditions": home},
            "home 2": {"context_conditions": home},
            "cart": {"context_conditions": cart},
            "Ada 1": {"trait_conditions": ada},
            "Ada 2": {"trait_conditions": ada},
            "Bo": {"trait_conditions": bo},
            "Ada at home": {"trait_conditions": ada, "context_conditions": home},
            "Bo at home": {"trait_conditions": bo, "context_conditions": home},
        }.items()
    }
    # when
    got = api.post("/v1/actions", {"userId": "u1", "context": {"page": {"path": "/home"}}}).json()
    # then
    assert sorted(a["id"] for a in got) == sorted(
        made[name] for name in ("home 1", "home 2", "Ada 1", "Ada 2", "Ada at home")
    )


@pytest.mark.postgres  # the one-statement delivery is PostgreSQL's; SQLite counts with the ORM
def test_the_one_statement_delivery_hides_what_the_capping_reasons_hide(
    api, make_action, known, web, real_cache
):
    # given: a history of reactions (the person's on two channels, a merged profile's, someone
    # else's, an old one) and actions capped by every kind of rule
    from datetime import timedelta

    from django.utils import timezone

    from actions import targeting

    person, stranger = known(), known("u2")
    merged = Person.objects.create(merged_into=person)
    rules = {
        "user delivered, web only": {
            "reaction": "delivered",
            "group": "user",
            "count": 2,
            "channels": ["web"],
        },
        "user delivered, app only": {
            "reaction": "delivered",
            "group": "user",
            "count": 1,
            "channels": ["app"],
        },
        "user shown, merged profile": {"reaction": "shown", "group": "user", "count": 1},
        "user delivered, last 7 days": {
            "reaction": "delivered",
            "group": "user",
            "count": 1,
            "within_days": 7,
        },
        "everyone accepted": {"reaction": "accepted", "group": "all", "count": 1},
        "everyone hidden, not reached": {"reaction": "hidden", "group": "all", "count": 5},
    }
    actions = {
        name: make_action(**banner(name=name, properties=[], capping_rules=[rule]))
        for name, rule in rules.items()
    }
    history = [
        ("user delivered, web only", person, "web", "delivered", 1),
        ("user delivered, web only", person, "web", "delivered", 1),
        ("user delivered, app only", person, "web", "delivered", 1),
        ("user shown, merged profile", merged, "app", "shown", 1),
        ("user delivered, last 7 days", person, "web", "delivered", 8),
        ("everyone accepted", stranger, "app", "accepted", 30),
        ("everyone hidden, not reached", stranger, "web", "hidden", 1),
    ]
    for name, who, channel, kind, days_ago in history:
        row = Reaction.objects.create(action=actions[name], person=who, channel=channel, kind=kind)
        Reaction.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    view = targeting.PersonView(person)
    compiled = [targeting.compiled_action(a.pk) for a in actions.values()]
    hidden = targeting.capping_reasons(compiled, view, targeting.Ask(channel="web"))
    api.post("/v1/actions", {"userId": "u1"})  # records the contact: the next ask is one statement
    Reaction.objects.filter(kind="delivered", created_at__gte=timezone.now() - timedelta(minutes=1)).delete()
    # when
    got = api.post("/v1/actions", {"userId": "u1"}).json()
    # then: the same actions are hidden, and only the others are logged as delivered
    shown = {
        actions[name].pk
        for name in (
            "user delivered, app only",
            "user delivered, last 7 days",
            "everyone hidden, not reached",
        )
    }
    assert set(hidden) == {a.pk for a in actions.values()} - shown
    assert {a["id"] for a in got} == shown
    logged = Reaction.objects.filter(kind="delivered", created_at__gte=timezone.now() - timedelta(minutes=1))
    assert sorted(logged.values_list("action_id", flat=True)) == sorted(shown)


@pytest.mark.parametrize(
    "path,body,code,message",
    [
        ("/v1/actions", b"{nope", "invalid_json", None),
        ("/v1/actions", [], "invalid_request", "The body must be a JSON object."),
        ("/v1/actions", {}, "invalid_request", "Give a userId or an anonymousId."),
        ("/v1/actions", {"userId": {"a": 1}}, "invalid_request", "'userId' must be a string."),
        (
            "/v1/actions",
            {"userId": "x" * 300},
            "invalid_request",
            "'userId' must be a non-empty string of at most 255 characters.",
        ),
        (
            "/v1/actions",
            {"userId": "a\u0000b"},
            "invalid_request",
            "'userId' must be a non-empty string of at most 255 characters.",
        ),
        (
            "/v1/actions",
            {"userId": "u1", "tags": "x" * 100},
            "invalid_request",
            "'tags[]' must be a non-empty string of at most 64 characters.",
        ),
        ("/v1/actions", {"userId": "u1", "tags": [1.5]}, "invalid_request", "'tags[]' must be a string."),
        ("/v1/actions", {"userId": "u1", "context": [1]}, "invalid_request", "'context' must be an object."),
        ("/v1/actions", {"userId": "u1", "type": ["a"]}, "invalid_request", "'type' must be a string."),
        (
            "/v1/actions/act",
            {"userId": "u1", "event": "show"},
            "invalid_request",
            "'actionId' must be an action's id (a positive integer).",
        ),
        (
            "/v1/actions/act",
            {"actionId": -1, "userId": "u1", "event": "show"},
            "invalid_request",
            "'actionId' must be an action's id (a positive integer).",
        ),
        (
            "/v1/actions/act",
            {"actionId": 10**30, "userId": "u1", "event": "show"},
            "invalid_request",
            "'actionId' must be an action's id (a positive integer).",
        ),
        ("/v1/actions/act", {"actionId": 1, "userId": "u1"}, "invalid_request", "'event' is required."),
        (
            "/v1/actions/act",
            {"actionId": 1, "userId": "u1", "event": "click"},
            "invalid_request",
            "'event' must be one of show, hide, decline, accept.",
        ),
        (
            "/v1/actions/act",
            {"actionId": 1, "userId": "u1", "event": "show", "properties": "x"},
            "invalid_request",
            "'properties' must be an object.",
        ),
        (
            "/v1/actions/act",
            {"actionId": 1, "event": "show"},
            "invalid_request",
            "Give a userId or an anonymousId.",
        ),
    ],
)
def test_bad_input_is_400_with_code_and_message(api, make_action, path, body, code, message):
    make_action(**banner(properties=[]))
    response = api.post(path, body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    if message:
        assert response.json()["message"] == message
    assert not Reaction.objects.exists()


@pytest.mark.parametrize(
    "raw,message",
    [
        (b'{"userId": "u1", "context": {"a": NaN}}', "'context' holds a number that is not finite."),
        (
            b'{"userId": "u1", "context": {"a": "\\ud800"}}',
            "'context' holds a lone surrogate (not valid Unicode).",
        ),
        (b'{"userId": "u1", "context": {"a": "x\\u0000"}}', "'context' holds a NUL character."),
        (
            b'{"userId": "u1", "context": ' + b'{"a": ' * 30 + b"1" + b"}" * 30 + b"}",
            "'context' is nested deeper than 20 levels.",
        ),
        (b'{"userId": "\\udc00"}', "'userId' must be a non-empty string of at most 255 characters."),
    ],
)
def test_values_postgresql_cannot_store_are_400(api, make_action, raw, message):
    make_action(name="x")
    response = api.post("/v1/actions", raw)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_request", "message": message}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "The body must be a JSON object."),
        (
            b'{"userId": "u1", "context": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "'context' must be an object.",
        ),
    ],
)
def test_absurdly_nested_body_is_400_not_500(api, web, raw, message):
    response = api.post("/v1/actions", raw)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_request", "message": message}


@pytest.mark.parametrize("auth", [None, "Basic " + base64.b64encode(b"wrong:").decode()])
def test_missing_or_unknown_write_key_is_401(client, web, auth):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = client.post("/v1/actions", {"userId": "u1"}, content_type="application/json", **headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    response = client.get("/v1/actions", {"userId": "u1"}, **headers)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/v1/actions", "/v1/actions/act"])
@pytest.mark.parametrize("body", [{}, {"userId": "u1", "type": 5}, {"userId": "u1", "actionId": 999}])
def test_an_unknown_key_is_answered_before_the_body(client, web, known, path, body):
    # given: a body that a known key would get a 400 or 404 for
    known()
    # when: it comes with an unknown key
    response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=basic("nope"))
    # then: the key is refused first, as when the source was read before anything else
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


def test_get_with_bad_context_json_is_400(api, known):
    response = api.get("/v1/actions", userId="u1", context="{bad")
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_request", "message": "'context' must be a JSON object."}


def test_cors_preflight_allows_get_and_post(client, web):
    response = client.options("/v1/actions", HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


def test_through_a_real_http_server(live_server, make_action, known, web):
    # given
    known(first_name="Ada")
    action = make_action(
        **banner(properties=[{"name": "title", "kind": "template", "value": "Hi {{first_name|there}}"}])
    )
    auth = "Basic " + base64.b64encode(f"{web.write_key}:".encode()).decode()

    def call(path, body):
        request = urllib.request.Request(
            live_server.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": auth, "Content-Type": "text/plain"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    # when
    listed = call("/v1/actions", {"userId": "u1"})
    accepted = call("/v1/actions/act", {"actionId": action.pk, "userId": "u1", "event": "accept"})
    missing = call("/v1/actions/act", {"actionId": action.pk + 100, "userId": "u1", "event": "accept"})
    # then
    assert listed == (
        200,
        [{"id": action.pk, "type": "banner", "tags": ["home"], "properties": {"title": "Hi Ada"}}],
    )
    assert accepted == (200, {"success": True, "reaction": "accepted"})
    assert missing[0] == 404
    assert sorted(Reaction.objects.values_list("kind", flat=True)) == ["accepted", "delivered"]


@pytest.mark.parametrize(
    "method,where,status",
    [
        ("POST", "basic", 200),
        ("POST", "body", 200),
        ("POST", "query", 200),
        ("GET", "basic", 200),
        ("GET", "query", 200),
        ("POST", "body-wrong", 401),
        ("GET", "query-wrong", 401),
    ],
)
def test_the_write_key_is_read_where_tracking_reads_it(
    client, web, known, make_action, method, where, status
):
    # given
    known()
    action = make_action(**banner(properties=[]))
    key = "wrong" if where.endswith("wrong") else web.write_key
    body = {"userId": "u1", **({"writeKey": key} if where.startswith("body") else {})}
    headers = {"HTTP_AUTHORIZATION": basic(key)} if where == "basic" else {}
    query = {"writeKey": key} if where.startswith("query") else {}
    # when
    if method == "GET":
        response = client.get("/v1/actions", {"userId": "u1", **query}, **headers)
    else:
        path = f"/v1/actions?writeKey={key}" if query else "/v1/actions"
        response = client.post(path, body, content_type="application/json", **headers)
    # then
    assert response.status_code == status
    if status == 200:
        assert [a["id"] for a in response.json()] == [action.pk]
    else:
        assert response.json() == {"code": "invalid_write_key", "message": "Unknown or disabled write key."}
