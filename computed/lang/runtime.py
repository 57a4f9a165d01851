"""The functions whose exact semantics both engines share.

PostgreSQL has native equivalents; on SQLite (the embedded development database) these very Python
functions are registered on each connection, so the SQL path and the Python path cannot disagree.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils.dateparse import parse_date, parse_datetime

UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def round_half_away(x: float, digits: int = 0) -> float:
    """Half away from zero on the value's 15 significant digits (PostgreSQL's float8 → numeric)."""
    quantum = Decimal(1).scaleb(-int(digits))
    return float(Decimal(format(x, ".15g")).quantize(quantum, rounding=ROUND_HALF_UP))


def floored_mod(a: float, b: float) -> float:
    return a - b * math.floor(a / b)


def as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def date_diff(unit: str, a: date | datetime, b: date | datetime) -> float:
    """b − a in whole units, floored (a date counts as midnight UTC next to a date-time)."""
    seconds = UNIT_SECONDS[unit]
    if not isinstance(a, datetime) and not isinstance(b, datetime):
        return float(((b - a).days * 86400) // seconds)
    return float((as_datetime(b) - as_datetime(a)) // timedelta(seconds=seconds))


def add_days(d: date | datetime, n: float) -> date | datetime:
    return d + timedelta(days=int(n))


def date_part(part: str, d: date | datetime, tz: ZoneInfo) -> float:
    if isinstance(d, datetime):
        d = d.astimezone(tz)
    return float(getattr(d, part))


def days_since(d: date | datetime, *, now: datetime, today: date) -> float:
    if isinstance(d, datetime):
        return float((now - d) // timedelta(days=1))
    return float((today - d).days)


# ---------------------------------------------------------------- SQLite adapters


def _sqlite_date(text):
    if text is None:
        return None
    return parse_date(str(text)[:10])


def _sqlite_datetime(text):
    if text is None:
        return None
    value = parse_datetime(str(text).replace("Z", "+00:00"))
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sqlite_value(text, is_datetime: int):
    return _sqlite_datetime(text) if is_datetime else _sqlite_date(text)


def sqlite_datetime_text(value: datetime) -> str:
    """A date-time in Django's SQLite storage format (naive UTC, ``YYYY-MM-DD HH:MM:SS[.ffffff]``)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def _out(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return sqlite_datetime_text(value)
    return value.isoformat()


def register_sqlite_functions(connection) -> None:
    """Register the runtime on a raw sqlite3 connection."""

    def guard(fn):
        def wrapper(*args):
            if any(a is None for a in args):
                return None
            return fn(*args)

        return wrapper

    connection.create_function(
        "attune_round", 2, guard(lambda x, n: round_half_away(float(x), int(n))), deterministic=True
    )
    connection.create_function("attune_lower", 1, guard(lambda s: str(s).lower()), deterministic=True)
    connection.create_function("attune_upper", 1, guard(lambda s: str(s).upper()), deterministic=True)
    connection.create_function(
        "attune_date_diff",
        5,
        guard(lambda unit, a, a_dt, b, b_dt: date_diff(unit, _sqlite_value(a, a_dt), _sqlite_value(b, b_dt))),
        deterministic=True,
    )
    connection.create_function(
        "attune_add_days",
        3,
        guard(lambda d, d_dt, n: _out(add_days(_sqlite_value(d, d_dt), n))),
        deterministic=True,
    )
    connection.create_function(
        "attune_date_part",
        4,
        guard(lambda part, d, d_dt, tz: date_part(part, _sqlite_value(d, d_dt), ZoneInfo(tz))),
        deterministic=True,
    )
    connection.create_function(
        "attune_days_since",
        4,
        guard(
            lambda d, d_dt, now, today: days_since(
                _sqlite_value(d, d_dt), now=_sqlite_datetime(now), today=_sqlite_date(today)
            )
        ),
        deterministic=True,
    )


def on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        register_sqlite_functions(connection.connection)
