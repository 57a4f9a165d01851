"""Identities and merges without the indexes other indexes cover or no reader uses.

Ingestion inserts identities and every merge re-points a child's identities to its parent (a new
entry in every index of the table per row) and writes a merge row. ``identity_identity`` had eight
indexes: its ``type`` and ``person`` foreign-key indexes are the leading columns of
``uniq_identity_type_value`` and ``identity_person_type_idx``, and nothing reads identities by
channel or source. ``identity_merge``'s ``parent`` and ``child`` indexes repeat ``merge_parent_idx``
and ``merge_child_idx``; nothing reads merges by source. Only the indexes go: the foreign-key
constraints stay as they are (Django's ``AlterField`` would drop and re-add them, checking every row
again under a lock), so the database operations are plain ``DROP INDEX``.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "identity_identity_channel_id_f5282f90": ("identity_identity", "channel_id"),
    "identity_identity_person_id_3bc8925d": ("identity_identity", "person_id"),
    "identity_identity_source_id_296cd362": ("identity_identity", "source_id"),
    "identity_identity_type_id_43ace52b": ("identity_identity", "type_id"),
    "identity_merge_child_id_29698f0b": ("identity_merge", "child_id"),
    "identity_merge_parent_id_fba60756": ("identity_merge", "parent_id"),
    "identity_merge_source_id_0aaaa8bd": ("identity_merge", "source_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0001_squashed_0004_profile_api_token_names_and_hashed_management_tokens"),
        ("people", "0001_squashed_0010_pending_change_event_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}", f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"
                )
                for name, (table, column) in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="identity",
                    name="channel",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="people.channel",
                    ),
                ),
                migrations.AlterField(
                    model_name="identity",
                    name="person",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="identities",
                        to="people.person",
                    ),
                ),
                migrations.AlterField(
                    model_name="identity",
                    name="source",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="people.source",
                    ),
                ),
                migrations.AlterField(
                    model_name="identity",
                    name="type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="identities",
                        to="identity.identifiertype",
                    ),
                ),
                migrations.AlterField(
                    model_name="merge",
                    name="child",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="merges_as_child",
                        to="people.person",
                    ),
                ),
                migrations.AlterField(
                    model_name="merge",
                    name="parent",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="merges_as_parent",
                        to="people.person",
                    ),
                ),
                migrations.AlterField(
                    model_name="merge",
                    name="source",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="people.source",
                    ),
                ),
            ],
        ),
    ]
