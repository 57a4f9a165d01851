"""Analysis on a known data set: counts, rates, reach, unique people, time buckets in the org timezone."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from actions import selectors
from actions.models import Reaction

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def dataset(make_action, make_person):
    """Ten deliveries, six shows, two accepts, one decline, over two days and two channels."""
    action = make_action(channels=["web", "app"])
    people = [make_person() for _ in range(5)]
    rows = []

    def add(person, kind, channel, at):
        rows.append(Reaction(action=action, person=person, kind=kind, channel=channel, created_at=at))

    day1 = datetime(2026, 6, 1, 9, 30, tzinfo=BERLIN)
    day2 = datetime(2026, 6, 2, 0, 30, tzinfo=BERLIN)  # 22:30 UTC on June 1st: June 2nd in Berlin
    for i, person in enumerate(people):
        add(person, "delivered", "web", day1)
        add(person, "delivered", "app" if i < 2 else "web", day2)
    for person in people[:3]:
        add(person, "shown", "web", day1)
        add(person, "shown", "web", day2)
    add(people[0], "accepted", "web", day1)
    add(people[1], "accepted", "app", day2)
    add(people[2], "declined", "web", day2)
    add(people[0], "delivered", "web", datetime(2026, 6, 3, 0, 0, tzinfo=BERLIN))  # outside the range
    Reaction.objects.bulk_create(rows)
    return action


def test_counts_rates_reach_and_unique_people(dataset):
    result = selectors.analysis(
        action=dataset, start=date(2026, 6, 1), end=date(2026, 6, 2), resolution="day"
    )
    assert result["counts"] == {"delivered": 10, "shown": 6, "hidden": 0, "declined": 1, "accepted": 2}
    assert result["rates"] == [
        {"from": "delivered", "to": "shown", "rate": 0.6},
        {"from": "shown", "to": "accepted", "rate": 0.3333},
    ]
    assert result["reach"] == {
        "app": {"delivered": 2, "shown": 0, "hidden": 0, "declined": 0, "accepted": 1},
        "web": {"delivered": 8, "shown": 6, "hidden": 0, "declined": 1, "accepted": 1},
    }
    assert result["unique_people"] == {
        "total": 5,
        "delivered": 5,
        "shown": 3,
        "hidden": 0,
        "declined": 1,
        "accepted": 2,
    }


def test_daily_buckets_follow_the_organization_timezone(dataset):
    result = selectors.analysis(
        action=dataset, start=date(2026, 6, 1), end=date(2026, 6, 2), resolution="day"
    )
    assert [(s["bucket"][:10], s["delivered"], s["shown"], s["accepted"]) for s in result["series"]] == [
        ("2026-06-01", 5, 3, 1),
        ("2026-06-02", 5, 3, 1),
    ]


def test_hourly_and_weekly_buckets(dataset):
    hourly = selectors.analysis(
        action=dataset, start=date(2026, 6, 1), end=date(2026, 6, 2), resolution="hour"
    )
    assert [(s["bucket"], s["delivered"]) for s in hourly["series"]] == [
        ("2026-06-01T09:00:00+02:00", 5),
        ("2026-06-02T00:00:00+02:00", 5),
    ]
    weekly = selectors.analysis(
        action=dataset, start=date(2026, 6, 1), end=date(2026, 6, 3), resolution="week"
    )
    assert [(s["bucket"][:10], s["delivered"]) for s in weekly["series"]] == [("2026-06-01", 11)]


def test_the_end_date_is_inclusive(dataset):
    result = selectors.analysis(action=dataset, start=date(2026, 6, 3), end=date(2026, 6, 3))
    assert result["counts"]["delivered"] == 1


def test_empty_range_has_no_rates(dataset):
    result = selectors.analysis(action=dataset, start=date(2025, 1, 1), end=date(2025, 1, 2))
    assert result["rates"][0]["rate"] is None
    assert result["series"] == []


@pytest.mark.parametrize(
    "start,end,resolution,message",
    [
        (date(2026, 6, 2), date(2026, 6, 1), "day", "the end date is before the start date"),
        (date(2026, 6, 1), date(2026, 6, 2), "minute", "resolution must be one of hour, day, week"),
        (
            date(2020, 1, 1),
            date(2026, 6, 2),
            "hour",
            "too many hour buckets; choose a shorter range or a coarser resolution",
        ),
    ],
)
def test_bad_queries_are_refused(dataset, start, end, resolution, message):
    with pytest.raises(ValueError, match=message):
        selectors.analysis(action=dataset, start=start, end=end, resolution=resolution)
