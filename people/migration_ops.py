"""Operations that hand-written migrations share.

A migration imports what it runs forever, so what is here keeps its behaviour: change it only by
adding, never by editing what an applied migration already relies on.
"""

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

# The django_q migration every schedule migration depends on (the Schedule table must exist).
DJANGO_Q_DEPENDENCY = ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")


def tomorrow_at(hour: int) -> Callable[[], datetime]:
    """A first run at `hour`:00 UTC tomorrow, worked out when the migration runs."""

    def next_run() -> datetime:
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(hour, 0), tzinfo=UTC)

    return next_run


def next_hour_at(minute: int) -> Callable[[], datetime]:
    """A first run at `minute` past the next hour (UTC), worked out when the migration runs."""

    def next_run() -> datetime:
        now = datetime.now(UTC)
        return now.replace(minute=minute, second=0, microsecond=0) + timedelta(hours=1)

    return next_run


def now() -> datetime:
    """A first run straight away."""
    return datetime.now(UTC)


def schedule_functions(
    *, name: str, func: str, schedule_type: str, next_run: Callable[[], datetime] | None = None, **fields: Any
) -> tuple[Callable, Callable]:
    """The RunPython pair (create, delete) of the django-q2 schedule `name`.

    Creating keeps a schedule of that name as it is; deleting removes it. `next_run` works out the
    first run when the migration runs (django-q2's default, now, where it is None); `fields` are further
    Schedule columns (for example `minutes=1` with `schedule_type="I"`). Tests call the create function
    again to put the schedule back after a flush.
    """

    def create_schedule(apps, schema_editor):
        defaults = {"func": func, "schedule_type": schedule_type, "repeats": -1, **fields}
        if next_run is not None:
            defaults["next_run"] = next_run()
        apps.get_model("django_q", "Schedule").objects.get_or_create(name=name, defaults=defaults)

    def delete_schedule(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.filter(name=name).delete()

    return create_schedule, delete_schedule
