"""Admin login throttling (django-axes): wrong passwords for one username from one address lock
that pair out for the cool-off time; the right password then fails too, another address does not."""

import pytest
from axes.models import AccessAttempt

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"


def login(client, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": "alice", "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_username_and_address_out(client, admin_user, settings):
    # given the default limit of 5 failures
    assert settings.AXES_FAILURE_LIMIT == 5
    # when alice's password is guessed wrong 5 times from one address
    answers = [login(client, f"guess{i}") for i in range(5)]
    # then the first 4 show the login form again, the 5th and later are refused with 429
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert "Please enter the correct username and password" in answers[0].content.decode()
    locked = login(client, "pw")  # even the right password
    assert locked.status_code == 429
    assert "too many login attempts" in locked.content.decode().lower()
    assert (
        AccessAttempt.objects.get(username="alice", ip_address="10.0.0.1").failures_since_start == 6
    )  # the locked try counts too
    # and the same user from another address still gets in
    other = login(client, "pw", address="10.0.0.2")
    assert other.status_code == 302 and other["Location"] == "/admin/"


def test_a_successful_login_resets_the_count(client, admin_user):
    for i in range(4):
        login(client, f"guess{i}")
    assert login(client, "pw").status_code == 302
    client.logout()
    # then four more wrong guesses are allowed again before a lockout
    assert [login(client, f"again{i}").status_code for i in range(4)] == [200, 200, 200, 200]


def test_only_admins_see_login_attempts(client, admin_user, marketeer_user):
    # given a locked-out attempt
    for i in range(5):
        login(client, f"guess{i}")
    # then an Admin sees it and a Marketeer may not open the page
    client.force_login(admin_user)
    assert "10.0.0.1" in client.get("/admin/axes/accessattempt/").content.decode()
    client.force_login(marketeer_user)
    assert client.get("/admin/axes/accessattempt/").status_code == 403
