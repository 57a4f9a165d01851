"""The daily django-q2 schedule that re-evaluates sliding windows (Unomi/Infobip: once a day)."""

from django.db import migrations

from people.migration_ops import DJANGO_Q_DEPENDENCY, schedule_functions, tomorrow_at

create_schedule, delete_schedule = schedule_functions(
    name="computed: daily re-evaluation of sliding windows",
    func="computed.tasks.reevaluate_windows",
    schedule_type="D",
    next_run=tomorrow_at(2),
)


class Migration(migrations.Migration):
    dependencies = [("computed", "0001_initial"), DJANGO_Q_DEPENDENCY]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
