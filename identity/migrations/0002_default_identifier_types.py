"""The default identifier types and the dedupe pruning schedule."""

from django.db import migrations

from identity.defaults import DEFAULT_TYPES, default_type_fields
from people.migration_ops import DJANGO_Q_DEPENDENCY, schedule_functions

create_prune_schedule, remove_defaults = schedule_functions(
    name="identity: prune dedupe keys", func="identity.tasks.prune_seen_messages", schedule_type="H"
)


def create_defaults(apps, schema_editor):
    IdentifierType = apps.get_model("identity", "IdentifierType")
    for row in DEFAULT_TYPES:
        IdentifierType.objects.get_or_create(key=row[0], defaults=default_type_fields(*row))
    create_prune_schedule(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("identity", "0001_initial"), DJANGO_Q_DEPENDENCY]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
