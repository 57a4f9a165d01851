"""The django-q2 schedule that retries due webhook deliveries every minute."""

from django.db import migrations

from people.migration_ops import DJANGO_Q_DEPENDENCY, now, schedule_functions

create_schedule, delete_schedule = schedule_functions(
    name="actions: retry due webhook deliveries",
    func="actions.tasks.deliver_due_webhooks",
    schedule_type="I",
    next_run=now,
    minutes=1,
)


class Migration(migrations.Migration):
    dependencies = [("actions", "0001_initial"), DJANGO_Q_DEPENDENCY]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
