"""The django-q2 schedule that refreshes audiences whose windows slide.

Hourly: windows in minutes and hours move within a day, and an hourly run passes midnight of the
organization's timezone whatever it is (calendar-day operators change there).
"""

from django.db import migrations

from people.migration_ops import DJANGO_Q_DEPENDENCY, next_hour_at, schedule_functions

create_schedule, delete_schedule = schedule_functions(
    name="audiences: re-evaluation of sliding windows",
    func="audiences.tasks.reevaluate_windows",
    schedule_type="H",
    next_run=next_hour_at(5),
)


class Migration(migrations.Migration):
    dependencies = [("audiences", "0001_initial"), DJANGO_Q_DEPENDENCY]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
