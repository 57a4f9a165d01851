"""The daily django-q2 schedule of privacy's housekeeping: expired export results are dropped, and
events older than the organization's retention setting are purged (off while the setting is empty)."""

from django.db import migrations

from people.migration_ops import DJANGO_Q_DEPENDENCY, schedule_functions, tomorrow_at

create_schedule, delete_schedule = schedule_functions(
    name="privacy: expired exports and event retention",
    func="privacy.tasks.housekeeping",
    schedule_type="D",
    next_run=tomorrow_at(3),
)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial"), DJANGO_Q_DEPENDENCY]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
