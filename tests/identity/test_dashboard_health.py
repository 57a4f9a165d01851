"""The dashboard's identity-graph health section: the values a person reads on it."""

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from identity.models import IdentifierType, Identity, Merge

pytestmark = pytest.mark.django_db


def add_identities(person, *pairs):
    for key, value in pairs:
        type_ = IdentifierType.objects.get(key=key)
        Identity.objects.create(person=person, type=type_, value=value, anonymous=type_.anonymous)


def section(body: str, key: str) -> str:
    start = body.index(f'data-section="{key}"')
    return body[start : start + 20000]


def chart_data(html: str) -> dict:
    return json.loads(unescape(re.search(r'data-value="([^"]*)"', html).group(1)))


def rows(html: str) -> list[list[str]]:
    """The text of each body row of the section's first table."""
    tbody = html[html.index("<tbody>") : html.index("</tbody>")]
    out = []
    for row in re.findall(r"<tr.*?</tr>", tbody, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        out.append([" ".join(re.sub(r"<[^>]+>", "", unescape(c)).split()) for c in cells])
    return out


@pytest.fixture
def graph(make_person):
    """3 profiles with 1, 2 and 5 identifiers; a 4th holds one device and 4 user ids (5 identifiers too)."""
    one, two, five, shared = (make_person(first_name=n) for n in ("One", "Two", "Five", "Shared"))
    add_identities(one, ("user_id", "u-one"))
    add_identities(two, ("user_id", "u-two"), ("email", "two@example.com"))
    add_identities(
        five,
        ("user_id", "u-five"),
        *[("email", f"five{i}@example.com") for i in range(4)],
    )
    add_identities(shared, ("anonymous_id", "kiosk-7"), *[("user_id", f"clerk-{i}") for i in range(4)])
    return one, two, five, shared


@pytest.mark.parametrize("role", ["admin_user", "marketeer_user"])
def test_health_section_shows_distribution_limits_and_shared_devices(client, request, role, graph):
    # given the graph above (the email limit is 5; the fifth profile holds 4 emails: not at it)
    one, two, five, shared = graph
    add_identities(two, *[("email", f"two{i}@example.com") for i in range(4)])  # now 5 emails
    cache.clear()
    client.force_login(request.getfixturevalue(role))
    # when
    body = client.get(reverse("admin:index")).content.decode()
    # then the distribution counts profiles per number of identifiers
    distribution = chart_data(section(body, "identities-distribution"))
    assert distribution["labels"][:6] == ["1", "2", "3", "4", "5", "6"]
    assert distribution["labels"][-1] == "10+"
    assert dict(zip(distribution["labels"], distribution["datasets"][0]["data"], strict=True)) == {
        "1": 1,
        "2": 0,
        "3": 0,
        "4": 0,
        "5": 2,
        "6": 1,
        "7": 0,
        "8": 0,
        "9": 0,
        "10+": 0,
    }
    assert "4 profiles with identifiers" in section(body, "identities-distribution")
    # the profile with 5 emails is at the email limit
    assert rows(section(body, "at-limit")) == [["Email", "5", "1"]]
    # the kiosk device is listed with its 4 user ids, linked to its profile
    devices = section(body, "shared-devices")
    assert rows(devices) == [["anonymous_id: kiosk-7", "4: clerk-0, clerk-1, clerk-2, clerk-3"]]
    assert reverse("admin:people_person_change", args=[shared.pk]) in devices


def test_health_section_counts_merges_per_day_by_reason(admin_client, make_person):
    # given 2 merges by shared identifier today, 1 manual merge 3 days ago, 1 merge 20 days ago
    a, b = make_person(first_name="A"), make_person(first_name="B")
    now = timezone.now()
    for at, reason in ((now, "resolution"), (now, "resolution"), (now - timedelta(days=3), "manual")):
        Merge.objects.create(parent=a, child=b, reason=reason, created_at=at)
    Merge.objects.create(parent=a, child=b, reason="resolution", created_at=now - timedelta(days=20))
    cache.clear()
    # when
    html = section(admin_client.get(reverse("admin:index")).content.decode(), "merges-chart")
    # then the 14-day chart holds 3 merges: two today, one three days ago
    data = chart_data(html)
    series = {d["label"]: d["data"] for d in data["datasets"]}
    assert series["Shared identifier"][-1] == 2 and sum(series["Shared identifier"]) == 2
    assert series["Manual merge"][-4] == 1 and sum(series["Manual merge"]) == 1
    assert len(data["labels"]) == 14
    assert "3 merges in 14 days" in html


def test_health_section_lists_blocked_values_most_hit(admin_client, ingest):
    # given messages whose only identifier is blocked: userId "null" twice, anonymousId "undefined" once
    result = ingest(
        {"type": "track", "event": "A", "userId": "null", "messageId": "m1"},
        {"type": "track", "event": "A", "userId": "null", "messageId": "m2"},
        {"type": "track", "event": "A", "anonymousId": "undefined", "messageId": "m3"},
    )
    assert len(result.rejected) == 3
    cache.clear()
    # when
    html = section(admin_client.get(reverse("admin:index")).content.decode(), "blocked-hits")
    # then the values are listed with how many messages they rejected, most first
    assert rows(html) == [["user_id:null", "2"], ["anonymous_id:undefined", "1"]]


def test_health_section_says_when_there_is_nothing(admin_client):
    cache.clear()
    body = admin_client.get(reverse("admin:index")).content.decode()
    assert rows(section(body, "shared-devices")) == [["No device shared by 3 or more user ids."]]
    assert rows(section(body, "at-limit")) == [["No profile is at a limit."]]
    assert "0 merges in 14 days" in section(body, "merges-chart")
