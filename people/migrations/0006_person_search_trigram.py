"""Trigram indexes for the person search (PostgreSQL only): part of an email (``ada@``), the end of a
phone number (a national format) and name prefixes stay index scans at millions of profiles.

Django compiles ``email__contains`` to ``email::text LIKE '%…%'`` and ``first_name__istartswith`` to
``UPPER(first_name::text) LIKE UPPER('…%')``; the indexes below match those expressions. Without the
pg_trgm extension (a managed database that refuses it) the search still works, by a scan."""

from django.db import migrations

INDEXES = {
    "person_email_trgm": "(email::text) gin_trgm_ops",
    "person_phone_trgm": "(phone::text) gin_trgm_ops",
    "person_first_name_trgm": "(UPPER(first_name::text)) gin_trgm_ops",
    "person_last_name_trgm": "(UPPER(last_name::text)) gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON people_person USING gin ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("people", "0005_event_retention_days_and_merged_children_deleted_with_parent")]

    operations = [migrations.RunPython(create, drop)]
