"""The Admin and Marketeer groups, and a BRIN index on event time (PostgreSQL only).

Admin: every permission. Marketeer: every permission except user/group management and the
organization settings. Permissions of models added later are granted by ``people.roles.sync_roles``
(run by ``migrate`` through a post_migrate hook), so the groups stay complete as apps grow.
"""

from django.db import migrations


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="Admin")
    Group.objects.get_or_create(name="Marketeer")


def brin_on_event_time(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS event_time_brin ON people_event USING brin (timestamp)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS event_time_brin")


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(brin_on_event_time, drop_brin),
    ]
