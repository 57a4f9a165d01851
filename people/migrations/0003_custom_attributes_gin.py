"""A GIN index on custom attributes (PostgreSQL only): the admin's custom-attribute filter and
audiences use containment (``custom @> '{"plan": "pro"}'``), which it serves."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS person_custom_gin ON people_person USING gin (custom jsonb_path_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS person_custom_gin")


class Migration(migrations.Migration):
    dependencies = [("people", "0002_roles_and_event_time_brin")]

    operations = [migrations.RunPython(create, drop)]
