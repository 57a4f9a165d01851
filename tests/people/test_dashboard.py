"""The admin dashboard's figures: each number stands beside its own label."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from people.models import Person, RejectedMessage

pytestmark = pytest.mark.django_db


class _Text(HTMLParser):
    """The page's visible text pieces, in order."""

    def __init__(self):
        super().__init__()
        self.pieces: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.pieces.append(" ".join(data.split()))


def figures(body: str) -> dict[str, list[str]]:
    """Per dashboard label, every number that directly follows it (a card: label, then value)."""
    parser = _Text()
    parser.feed(body)
    pieces = parser.pieces
    found: dict[str, list[str]] = {}
    for label, value in zip(pieces, pieces[1:], strict=False):
        number = re.fullmatch(r"([\d,]+)(?: \([\d.]+%\))?", value)  # "2" or "2 (40.0%)"
        if label in ("Profiles", "Events today", "Rejected today") and number:
            found.setdefault(label, []).append(number.group(1))
    return found


@pytest.mark.parametrize("role", ["admin_user", "marketeer_user"])
def test_dashboard_counts_live_people_and_todays_events_and_rejections(
    client, request, role, make_person, make_event
):
    # given 7 live people and one merged into another, 3 events today and one yesterday,
    # 2 rejected messages today and one two days ago
    people = [make_person(first_name=f"P{i}") for i in range(7)]
    Person.objects.create(first_name="Merged", merged_into=people[0])
    now = timezone.now()
    for _ in range(3):
        make_event(people[1], at=now)
    make_event(people[1], at=now - timedelta(days=1, hours=1))
    for at in (now, now, now - timedelta(days=2)):
        RejectedMessage.objects.create(received_at=at, reason_code="invalid_json", reason="bad")
    client.force_login(request.getfixturevalue(role))
    # when
    response = client.get(reverse("admin:index"))
    # then each figure sits beside its label
    assert response.status_code == 200
    assert figures(response.content.decode()) == {
        "Profiles": ["7"],
        "Events today": ["3"],
        "Rejected today": ["2"],
    }


def test_live_tail_answers_the_events_received_after_the_last_one_seen(
    client, admin_user, make_person, make_event
):
    # given three events, the page having shown the first
    person = make_person(first_name="Ada", last_name="Lovelace")
    first = make_event(person, "Signed Up")
    make_event(person, "Page Viewed")
    newest = make_event(person, "Order Completed")
    client.force_login(admin_user)
    url = reverse("admin:people_event_latest")
    # when the tail asks for what came after the first
    answer = client.get(url, {"after": first.pk}).json()
    # then the two newer ones, newest first, as the table shows them
    assert [e["name"] for e in answer["events"]] == ["Order Completed", "Page Viewed"]
    assert answer["last_id"] == newest.pk
    assert answer["events"][0]["person"] == "Ada Lovelace"
    assert answer["events"][0]["person_url"] == reverse("admin:people_person_change", args=[person.pk])
    assert answer["events"][0]["received"].replace("\xa0", " ") == "0 minutes ago"
    # and nothing new after the newest: the cursor stays
    assert client.get(url, {"after": newest.pk}).json() == {"last_id": newest.pk, "events": []}


def test_dashboard_page_starts_the_tail_after_its_newest_event(client, admin_user, make_person, make_event):
    person = make_person(first_name="Ada")
    make_event(person, "Signed Up")
    newest = make_event(person, "Order Completed")
    client.force_login(admin_user)
    body = client.get(reverse("admin:index")).content.decode()
    assert f'data-last-id="{newest.pk}"' in body
    assert f'data-url="{reverse("admin:people_event_latest")}"' in body
    assert "Live: new events appear every 3 seconds." in body


@pytest.mark.parametrize(
    "after", ["x", "-1", "1.5", "", " ", "١٢", "9" * 40, "1;DROP TABLE people_event", "0x10"]
)
def test_live_tail_refuses_an_after_that_is_not_an_event_id(client, admin_user, after):
    client.force_login(admin_user)
    response = client.get(reverse("admin:people_event_latest"), {"after": after})
    assert response.status_code == 400
    assert response.json() == {"after": "expected the id of an event (a whole number)"}


def test_live_tail_is_for_staff_who_may_view_events(client, make_person, make_event, django_user_model):
    make_event(make_person(first_name="Ada"), "Signed Up")
    url = reverse("admin:people_event_latest")
    # anonymous: sent to the login page, no data
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    # staff without the right to view events: refused
    client.force_login(django_user_model.objects.create_user("nobody", password="pw", is_staff=True))
    assert client.get(url).status_code == 403
