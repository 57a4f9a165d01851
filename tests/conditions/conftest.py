from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from people import conditions
from people.models import Person

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")


@pytest.fixture
def members():
    """``members(json) -> (sql correlated, sql set-based, python)`` as sets of first names."""

    def run(data, now=NOW, tz=TZ):
        tree = conditions.check(data)
        people = list(Person.objects.all())
        correlated = Person.objects.filter(conditions.to_q(tree, now=now, tz=tz))
        uncorrelated = Person.objects.filter(conditions.to_q(tree, now=now, tz=tz, correlated=False))
        return (
            {p.first_name for p in correlated},
            {p.first_name for p in uncorrelated},
            {p.first_name for p in people if conditions.matches(tree, p, now=now, tz=tz)},
        )

    return run
