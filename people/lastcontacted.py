"""The seven "last contacted" operators (Infobip semantics), as SQL filters and in Python.

A day is 24 hours back from now: ``days_ago`` is the number of whole 24-hour periods since the
contact (under 24 h is 0 days ago, 24 to 48 h is 1 day ago).

- ``more_than`` N days ago  ⇔ days_ago > N
- ``less_than`` N days ago  ⇔ days_ago < N
- ``exactly`` N days ago    ⇔ days_ago = N
- ``before`` / ``after`` an instant (strict)
- ``on`` a calendar date in the organization's timezone
- ``unknown``: never contacted

Both paths take the same ``now`` so a compiled filter and a single-profile check agree.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db.models import Q

DAY = timedelta(hours=24)


class ContactOperator(StrEnum):
    MORE_THAN = "more_than"
    LESS_THAN = "less_than"
    EXACTLY = "exactly"
    BEFORE = "before"
    AFTER = "after"
    ON = "on"
    UNKNOWN = "unknown"


MAX_DAYS = 36_500  # a hundred years: anything larger cannot be a date


def day_count(value) -> int:
    """N of "N days ago": a whole number from 0 to ``MAX_DAYS``; ``ValueError`` otherwise."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number of days, got {value!r}") from None
    if not 0 <= n <= MAX_DAYS:
        raise ValueError(f"days must be between 0 and {MAX_DAYS}, got {n}")
    return n


DAY_OPERATORS = {ContactOperator.MORE_THAN, ContactOperator.LESS_THAN, ContactOperator.EXACTLY}
INSTANT_OPERATORS = {ContactOperator.BEFORE, ContactOperator.AFTER}


def day_bounds(on: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants [start, end) of a calendar date in a timezone (DST-correct)."""
    start = datetime(on.year, on.month, on.day, tzinfo=tz)
    following = on + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return start, end


def contact_q(field: str, op: ContactOperator | str, value=None, *, now: datetime, tz: ZoneInfo) -> Q:
    """A Q on a nullable datetime ``field`` implementing one operator."""
    op = ContactOperator(op)
    if op is ContactOperator.UNKNOWN:
        return Q(**{f"{field}__isnull": True})
    if op in DAY_OPERATORS:
        n = day_count(value)
        if op is ContactOperator.MORE_THAN:
            return Q(**{f"{field}__lte": now - (n + 1) * DAY})
        if op is ContactOperator.LESS_THAN:
            return Q(**{f"{field}__gt": now - n * DAY})
        return Q(**{f"{field}__gt": now - (n + 1) * DAY, f"{field}__lte": now - n * DAY})
    if op is ContactOperator.BEFORE:
        return Q(**{f"{field}__lt": value})
    if op is ContactOperator.AFTER:
        return Q(**{f"{field}__gt": value})
    start, end = day_bounds(value, tz)
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def contact_matches(
    contacted_at: datetime | None, op: ContactOperator | str, value=None, *, now: datetime, tz: ZoneInfo
) -> bool:
    """The same operator evaluated for one value in Python."""
    op = ContactOperator(op)
    if op is ContactOperator.UNKNOWN:
        return contacted_at is None
    if contacted_at is None:
        return False
    if op in DAY_OPERATORS:
        n = day_count(value)
        days_ago = (now - contacted_at) // DAY
        if op is ContactOperator.MORE_THAN:
            return days_ago > n
        if op is ContactOperator.LESS_THAN:
            return days_ago < n
        return days_ago == n
    if op is ContactOperator.BEFORE:
        return contacted_at < value
    if op is ContactOperator.AFTER:
        return contacted_at > value
    start, end = day_bounds(value, tz)
    return start <= contacted_at < end
