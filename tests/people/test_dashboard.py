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
