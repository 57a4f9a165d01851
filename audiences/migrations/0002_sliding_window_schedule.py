"""The django-q2 schedule that refreshes audiences whose windows slide.

Hourly: windows in minutes and hours move within a day, and an hourly run passes midnight of the
organization's timezone whatever it is (calendar-day operators change there).
"""

from datetime import datetime, timedelta, timezone

from django.db import migrations

NAME = "audiences: re-evaluation of sliding windows"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    next_hour = datetime.now(timezone.utc).replace(minute=5, second=0, microsecond=0) + timedelta(hours=1)
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "audiences.tasks.reevaluate_windows",
            "schedule_type": "H",
            "repeats": -1,
            "next_run": next_hour,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
