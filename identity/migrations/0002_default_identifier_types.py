"""The default identifier types and the dedupe pruning schedule."""

from django.db import migrations

from identity.defaults import DEFAULT_TYPES, default_type_fields


def create_defaults(apps, schema_editor):
    IdentifierType = apps.get_model("identity", "IdentifierType")
    for row in DEFAULT_TYPES:
        IdentifierType.objects.get_or_create(key=row[0], defaults=default_type_fields(*row))
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="identity: prune dedupe keys",
        defaults={"func": "identity.tasks.prune_seen_messages", "schedule_type": "H", "repeats": -1},
    )


def remove_defaults(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="identity: prune dedupe keys").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
