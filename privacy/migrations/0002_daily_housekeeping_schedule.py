"""The daily django-q2 schedule of privacy's housekeeping: expired export results are dropped, and
events older than the organization's retention setting are purged (off while the setting is empty)."""

from datetime import datetime, time, timedelta, timezone

from django.db import migrations

NAME = "privacy: expired exports and event retention"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "privacy.tasks.housekeeping",
            "schedule_type": "D",
            "repeats": -1,
            "next_run": datetime.combine(tomorrow, time(3, 0), tzinfo=timezone.utc),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
