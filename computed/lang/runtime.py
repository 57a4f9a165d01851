"""The functions whose exact semantics both engines share.

PostgreSQL has native equivalents; on SQLite (the embedded development database) these very Python
functions are registered on each connection, so the SQL path and the Python path cannot disagree.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from zoneinfo import ZoneInfo

from django.utils.dateparse import parse_date, parse_datetime

UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}

# The supported range of values (what both PostgreSQL and Python hold). A computation that leaves it
# gives an empty value, the same in SQL and in Python.
MIN_DATE, MAX_DATE = date.min, date.max
MIN_MOMENT = datetime.min.replace(tzinfo=UTC)
MAX_MOMENT = datetime.max.replace(tzinfo=UTC)
MAX_DAYS = (MAX_DATE - MIN_DATE).days  # add_days beyond this always leaves the range
MAX_WHOLE = 9.2e18  # whole numbers shown as text (concat) stay below 2**63
_ROUNDING = Context(prec=400)  # float8 holds up to 309 integer digits


def unstorable_text(text: str) -> str | None:
    """What in ``text`` neither PostgreSQL nor UTF-8 can hold (a NUL character, a lone surrogate)."""
    for ch in text:
        if ch == "\x00":
            return "a NUL character"
        if "\ud800" <= ch <= "\udfff":
            return "a lone surrogate (an invalid character)"
    return None


def finite(x: float | None) -> float | None:
    """A number, or None (empty) where it is not finite (overflow)."""
    return x if x is None or math.isfinite(x) else None


def round_half_away(x: float, digits: int = 0) -> float:
    """Half away from zero on the value's 15 significant digits (PostgreSQL's float8 → numeric)."""
    quantum = Decimal(1).scaleb(-int(digits))
    return float(Decimal(format(x, ".15g")).quantize(quantum, rounding=ROUND_HALF_UP, context=_ROUNDING))


def floored_mod(a: float, b: float) -> float | None:
    quotient = a / b
    if not math.isfinite(quotient):
        return None
    return finite(a - b * math.floor(quotient))


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


def add_days(d: date | datetime, n: float) -> date | datetime | None:
    """``d`` moved by ``n`` days, or None (empty) where that leaves the supported range."""
    if abs(n) > MAX_DAYS:
        return None
    try:
        moved = d + timedelta(days=int(n))
    except OverflowError:
        return None
    if isinstance(moved, datetime) and not MIN_MOMENT <= moved <= MAX_MOMENT:
        return None
    return moved


def in_range(value: object) -> bool:
    """Whether a value can be stored and read back (finite numbers; dates and date-times 1–9999)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, datetime):
        try:
            return MIN_MOMENT <= value <= MAX_MOMENT
        except OverflowError:
            return False
    return True


def date_part(part: str, d: date | datetime, tz: ZoneInfo) -> float | None:
    """Year, month or day; of a date-time in ``tz`` (None where that local time is out of range)."""
    if isinstance(d, datetime):
        try:
            d = d.astimezone(tz)
        except OverflowError:
            return None
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
