"""The django-q2 schedule that retries due webhook deliveries every minute."""

from datetime import datetime, timezone

from django.db import migrations

NAME = "actions: retry due webhook deliveries"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=NAME,
        defaults={
            "func": "actions.tasks.deliver_due_webhooks",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
            "next_run": datetime.now(timezone.utc),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("actions", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
