"""Retention: off by default; with N days set, the daily job purges older events only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from people.models import Event, OrganizationSettings
from people.selectors import organization
from privacy import erasure, tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(make_person, make_event):
    person = make_person(first_name="Gus")
    now = timezone.now()
    for days in (1, 29, 31, 400):
        make_event(person, name=f"{days} days ago", at=now - timedelta(days=days))


def test_retention_is_off_by_default(events):
    assert organization().event_retention_days is None
    assert tasks.housekeeping() == {"results_dropped": 0, "events_purged": 0}
    assert Event.objects.count() == 4


def test_events_older_than_the_setting_are_purged_in_batches(events, monkeypatch):
    # given
    monkeypatch.setattr(erasure, "BATCH", 1)
    organization()
    OrganizationSettings.objects.update(event_retention_days=30)
    cache.clear()
    # when
    result = tasks.housekeeping()
    # then
    assert result["events_purged"] == 2
    assert sorted(Event.objects.values_list("name", flat=True)) == ["1 days ago", "29 days ago"]


def test_the_daily_schedule_exists():
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    # (created by the migration; called again in case a transactional test flushed the table)
    importlib.import_module("privacy.migrations.0002_daily_housekeeping_schedule").create_schedule(apps, None)
    schedule = Schedule.objects.get(func="privacy.tasks.housekeeping")
    assert schedule.schedule_type == Schedule.DAILY
