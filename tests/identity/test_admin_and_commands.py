"""Identity admin pages render and their actions work; the set-up commands keep their output contract."""

import base64
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse

from identity import demo
from identity.models import AccessToken, Identity, Merge
from people.models import Person, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(ingest):
    ingest(
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}},
        {"type": "track", "anonymousId": "a1", "event": "Viewed"},
        {"type": "track", "userId": "nobody", "event": 5},
    )


@pytest.mark.parametrize("role", ["admin_user", "marketeer_user"])
@pytest.mark.parametrize(
    "model",
    [
        "identifiertype",
        "identity",
        "merge",
        "accesstoken",
        "suppressedidentifier",
        "seenundefined",
        "sourcedailystat",
    ],
)
def test_identity_changelists_render(client, data, request, role, model):
    client.force_login(request.getfixturevalue(role))
    # Marketeers may not manage Profile API tokens (roles in people).
    expected = 403 if (model, role) == ("accesstoken", "marketeer_user") else 200
    assert client.get(reverse(f"admin:identity_{model}_changelist")).status_code == expected


def test_person_360_shows_identifiers_and_search_finds_any_identifier(client, data, admin_user):
    client.force_login(admin_user)
    person = Person.objects.get(identities__value="u1")
    page = client.get(reverse("admin:people_person_change", args=[person.pk])).content.decode()
    assert "Identifiers" in page and "u1@example.com" in page
    listing = client.get(reverse("admin:people_person_changelist"), {"q": "U1@Example.com"}).content.decode()
    assert str(person.uid) in listing or reverse("admin:people_person_change", args=[person.pk]) in listing


def test_manual_merge_action_confirms_then_merges_and_unmerge_action_undoes(client, data, admin_user):
    client.force_login(admin_user)
    ids = [Person.objects.get(identities__value=v).pk for v in ("u1", "a1")]
    url = reverse("admin:people_person_changelist")
    confirm = client.post(url, {"action": "merge_selected_people", ACTION_CHECKBOX_NAME: ids})
    assert confirm.status_code == 200 and "Merge (can be undone)" in confirm.content.decode()
    client.post(url, {"action": "merge_selected_people", ACTION_CHECKBOX_NAME: ids, "apply": "1"})
    merge = Merge.objects.get()
    response = client.post(
        reverse("admin:identity_merge_changelist"), {"action": "unmerge", ACTION_CHECKBOX_NAME: [merge.pk]}
    )
    assert response.status_code == 302
    merge.refresh_from_db()
    assert merge.undone_at is not None


def test_dry_run_and_debugger_pages(client, data, admin_user, source):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:identity_merge_dry_run"),
        {
            "source": source.pk,
            "message": '{"type": "track", "userId": "u1", "anonymousId": "a1", "event": "X"}',
        },
    )
    assert "would merge" in response.content.decode()
    page = client.get(reverse("admin:identity_debugger", args=[source.pk])).content.decode()
    assert "Viewed" in page and "missing_event" in page
    activity = client.get(reverse("admin:identity_sourcedailystat_changelist")).content.decode()
    assert source.name in activity


def test_access_token_created_in_the_admin_is_shown_once_and_stored_hashed(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:identity_accesstoken_add"), {"name": "BI", "enabled": "on"}, follow=True
    )
    body = response.content.decode()
    raw = body.split("<code>")[1].split("</code>")[0]
    token = AccessToken.objects.get()
    assert token.token_hash == AccessToken.hash_token(raw) and raw not in token.token_hash


def test_a_token_disabled_in_the_admin_stops_working_at_once(client, admin_user, make_person):
    # given a token that has just been used (so it sits in the per-process cache)
    from identity.services import access_token_create

    issued = access_token_create(name="BI")
    url = "/v1/spaces/default/collections/users/profiles/user_id:nobody/traits"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {issued.raw}").status_code == 404
    # when an admin disables it
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:identity_accesstoken_change", args=[issued.token.pk]), {"name": "BI"}, follow=True
    )
    assert response.status_code == 200
    client.logout()
    # then it is refused
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {issued.raw}").status_code == 401


def test_create_source_command_output_contract(client):
    out = io.StringIO()
    call_command("create_source", "Backend", "--channel", "server", "--protection", "update_only", stdout=out)
    lines = out.getvalue().strip().splitlines()
    pair, write_key = lines[-2], lines[-1]
    source = Source.objects.get(name="Backend")
    assert source.channel.key == "server" and source.protection == "update_only"
    assert pair == f"{source.key}:{write_key}"
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    response = client.post(
        "/v1/track", '{"userId": "x", "event": "E"}', content_type="text/plain", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200


def test_create_access_token_command_prints_the_token_last(client):
    out = io.StringIO()
    call_command("create_access_token", "Reporting", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert AccessToken.objects.get().token_hash == AccessToken.hash_token(token)
    response = client.get(
        "/v1/spaces/x/collections/users/profiles/user_id:none/traits", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Profile was not found."}}


def test_write_keys_get_401_on_the_profile_api(client, make_source):
    write_key = make_source("Web").write_key
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    response = client.get(
        "/v1/spaces/x/collections/users/profiles/user_id:u1/traits", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_error"


def test_demo_hook_gives_demo_people_identities_and_merges():
    call_command("load_demo", people=12, seed=3, verbosity=0)
    out = io.StringIO()
    demo.load(out)
    assert "Identity demo" in out.getvalue()
    assert Identity.objects.filter(type__key="user_id").count() >= 10
    assert Merge.objects.count() == 5
