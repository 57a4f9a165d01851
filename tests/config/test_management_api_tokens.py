"""Management API tokens: hashed at rest, shown once (admin and command), existing ones migrated."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from identity.staff_tokens import management_token_create, management_token_key
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_hashed_and_authenticates(client, admin_user):
    # given a token created for a staff user
    issued = management_token_create(user=admin_user)
    # then only its hash is in the database
    stored = Token.objects.get(user=admin_user)
    assert stored.key == management_token_key(issued.raw) != issued.raw
    assert issued.raw.startswith("mat_") and len(stored.key) == 40
    # and the token itself opens the management API, the stored hash does not
    assert client.get("/api/channels/", HTTP_AUTHORIZATION=f"Token {issued.raw}").status_code == 200
    denied = client.get("/api/channels/", HTTP_AUTHORIZATION=f"Token {stored.key}")
    assert denied.status_code == 401 and denied.json()["detail"] == "Invalid token."


def test_a_new_token_replaces_the_old_one(client, admin_user):
    first = management_token_create(user=admin_user).raw
    second = management_token_create(user=admin_user).raw
    assert client.get("/api/channels/", HTTP_AUTHORIZATION=f"Token {first}").status_code == 401
    assert client.get("/api/channels/", HTTP_AUTHORIZATION=f"Token {second}").status_code == 200


def test_command_prints_the_token_alone_on_the_last_line(client, admin_user, capsys):
    # when the command runs for a staff user
    call_command("create_api_token", "alice")
    lines = capsys.readouterr().out.strip().splitlines()
    # then the last line is the token, which works
    token = lines[-1]
    assert token.startswith("mat_") and " " not in token
    assert "shown once" in lines[0]
    assert client.get("/api/channels/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


@pytest.mark.parametrize(
    "username,message",
    [
        ("nobody", "No user named 'nobody'."),
        ("bob", "'bob' is not an active staff user."),
    ],
)
def test_command_refuses_unknown_and_non_staff_users(db, username, message):
    from django.contrib.auth.models import User

    User.objects.create_user("bob", "bob@example.com", "pw")
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", username)
    assert not Token.objects.exists()


def test_admin_shows_a_new_token_once_and_lists_no_secret(client, admin_user):
    # given an Admin in the admin
    marketeer = factories.make_staff_user("mia", role="Marketeer")
    client.force_login(admin_user)
    # when they create a token for a staff user
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": marketeer.pk}, follow=True)
    # then the page shows it once
    page = response.content.decode()
    assert "Management API token for mia (shown once, copy it now)" in page
    raw = page.split("copy it now): <code>")[1].split("</code>")[0]
    assert client.get("/api/channels/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
    stored = Token.objects.get(user=marketeer)
    # and the list shows neither the token nor its hash
    listing = client.get("/admin/authtoken/tokenproxy/").content.decode()
    assert "mia" in listing and raw not in listing and stored.key not in listing


def test_the_three_kinds_of_secret_have_clear_names_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    index = client.get("/admin/").content.decode()
    assert "Management API tokens" in index and "Profile API tokens" in index
    assert "Auth Token" not in index and "Access tokens" not in index
    assert "Management API tokens" in client.get("/admin/authtoken/tokenproxy/").content.decode()
    assert "Profile API tokens" in client.get("/admin/identity/accesstoken/").content.decode()
