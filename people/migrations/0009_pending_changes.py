"""People's changes waiting for their refreshes (computed attributes, audiences), written with the
change itself and drained by a django-q2 task after commit; a schedule drains any left every minute."""

from django.db import migrations, models

from people.migration_ops import DJANGO_Q_DEPENDENCY, now, schedule_functions

create_schedule, delete_schedule = schedule_functions(
    name="people: refresh changed people",
    func="people.tasks.drain_changes",
    schedule_type="I",
    minutes=1,
    next_run=now,
)


class Migration(migrations.Migration):
    dependencies = [("people", "0008_person_counters_hot_updates"), DJANGO_Q_DEPENDENCY]

    operations = [
        migrations.CreateModel(
            name="PendingChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("person_id", models.BigIntegerField()),
                ("reason", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(create_schedule, delete_schedule),
    ]
