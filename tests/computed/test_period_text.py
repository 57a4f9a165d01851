"""The builder shows the exact period a preset covers, in the organization's timezone, through the
computed admin's period-bounds endpoint (the engine's own Period.bounds)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from computed import admin as computed_admin

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 15:00 in Berlin, a Monday
URL = "admin:computed_computedattribute_period_bounds"


@pytest.fixture
def staff(client, admin_user, monkeypatch):
    monkeypatch.setattr(computed_admin, "_now", lambda: NOW)
    monkeypatch.setattr(computed_admin, "organization_tz", lambda: ZoneInfo("Europe/Berlin"))
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    ("params", "text", "low", "high"),
    [
        (
            {"type": "full_days", "value": "30"},
            "31 Oct 00:00 – 30 Nov 00:00, Europe/Berlin; today is not included",
            "2026-10-31T00:00:00+01:00",
            "2026-11-30T00:00:00+01:00",
        ),
        (
            {"type": "full_days", "value": "29"},
            "1 Nov 00:00 – 30 Nov 00:00, Europe/Berlin; today is not included",
            "2026-11-01T00:00:00+01:00",
            "2026-11-30T00:00:00+01:00",
        ),
        (
            {"type": "last_hours", "value": "24"},
            "29 Nov 15:00 – now, Europe/Berlin; moves with the clock",
            "2026-11-29T14:00:00+00:00",
            None,
        ),
        (
            {"type": "since", "value": "2024-01-01"},
            "1 Jan 2024 00:00 – now, Europe/Berlin; today is included",
            "2024-01-01T00:00:00+01:00",
            None,
        ),
        ({"type": "lifetime"}, "All events ever (lifetime)", None, None),
        ({"type": "lifetime", "value": "30"}, "All events ever (lifetime)", None, None),
        (
            {"type": "before_today"},
            "All events before 30 Nov 00:00, Europe/Berlin; today is not included",
            None,
            "2026-11-30T00:00:00+01:00",
        ),
        (
            {"type": "full_months", "value": "1"},
            "30 Oct 00:00 – 30 Nov 00:00, Europe/Berlin; today is not included",
            "2026-10-30T00:00:00+01:00",
            "2026-11-30T00:00:00+01:00",
        ),
        (
            {"type": "last_days", "value": "7"},
            "23 Nov 00:00 – now, Europe/Berlin; today is included",
            "2026-11-23T00:00:00+01:00",
            None,
        ),
    ],
)
def test_a_preset_reads_as_the_exact_period_it_covers(staff, params, text, low, high):
    # when the builder asks what a period covers
    response = staff.get(reverse(URL), params)
    # then it answers the text the marketer reads and the bounds the engine uses
    assert response.status_code == 200
    assert response.json() == {"text": text, "from": low, "to": high}


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({}, "period.type", "expected one of: lifetime, full_days"),
        ({"type": "weeks", "value": "2"}, "period.type", "expected one of"),
        ({"type": "full_days"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "full_days", "value": "abc"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "full_days", "value": "0"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "last_days", "value": "3661"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "last_hours", "value": "-5"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "last_hours", "value": "1.5"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "full_months", "value": "٣"}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "full_days", "value": "9" * 400}, "period.value", "expected a whole number from 1 to 3660"),
        ({"type": "since"}, "period.value", "expected a date (YYYY-MM-DD)"),
        ({"type": "since", "value": "2024-13-01"}, "period.value", "expected a date (YYYY-MM-DD)"),
        ({"type": "since", "value": "yesterday"}, "period.value", "expected a date (YYYY-MM-DD)"),
        ({"type": "since", "value": "x" * 5000}, "period.value", "expected a date (YYYY-MM-DD)"),
        ({"type": "since", "value": "2024-02-30"}, "period.value", "expected a date (YYYY-MM-DD)"),
    ],
)
def test_a_bad_period_gets_a_reason_never_a_500(staff, params, path, message):
    # when a period the engine refuses is asked about
    response = staff.get(reverse(URL), params)
    # then the answer is a 400 naming the field and the reason
    assert response.status_code == 400
    assert message in response.json()[path]


def test_only_staff_may_ask(client, db):
    # when someone not logged in asks / then the admin sends them to its login page
    response = client.get(reverse(URL), {"type": "lifetime"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
