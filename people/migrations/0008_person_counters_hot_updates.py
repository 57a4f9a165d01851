"""Ingestion rewrites a person's counters (``event_count``, ``session_count``, ``first_seen_at``,
``last_activity_at``) on every batch that touches them. PostgreSQL can make such an update HOT (the new
row version on the same page, no new entry in any index) only when no indexed column changes and the
page has room. So: drop the index on ``last_activity_at`` (the only index over a counter) and keep 20%
of every page free (``fillfactor = 80``; new pages get it at once, existing ones as they are rewritten,
e.g. by ``VACUUM FULL``). Measured in docs/performance.md §6."""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE people_person SET (fillfactor = 80)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE people_person RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("people", "0007_organization_webhook_signing_key_previous")]

    operations = [
        migrations.RemoveIndex(model_name="person", name="person_last_activity_idx"),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
