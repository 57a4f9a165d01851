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

CASCADE, PROTECT, SET_NULL = (
    django.db.models.deletion.CASCADE,
    django.db.models.deletion.PROTECT,
    django.db.models.deletion.SET_NULL,
)
# (model, field, the index dropped, the field's other arguments): ``to``, ``on_delete``, ``related_name``,
# and whether it may be empty.
FOREIGN_KEYS = [
    ("identity", "channel", "identity_identity_channel_id_f5282f90", "people.channel", SET_NULL, "+", True),
    (
        "identity",
        "person",
        "identity_identity_person_id_3bc8925d",
        "people.person",
        CASCADE,
        "identities",
        False,
    ),
    ("identity", "source", "identity_identity_source_id_296cd362", "people.source", SET_NULL, "+", True),
    (
        "identity",
        "type",
        "identity_identity_type_id_43ace52b",
        "identity.identifiertype",
        PROTECT,
        "identities",
        False,
    ),
    (
        "merge",
        "child",
        "identity_merge_child_id_29698f0b",
        "people.person",
        CASCADE,
        "merges_as_child",
        False,
    ),
    (
        "merge",
        "parent",
        "identity_merge_parent_id_fba60756",
        "people.person",
        CASCADE,
        "merges_as_parent",
        False,
    ),
    ("merge", "source", "identity_merge_source_id_0aaaa8bd", "people.source", SET_NULL, "+", True),
]


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0001_squashed_0004_profile_api_token_names_and_hashed_management_tokens"),
        ("people", "0001_squashed_0010_pending_change_event_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {index}",
                    f"CREATE INDEX IF NOT EXISTS {index} ON identity_{model} ({name}_id)",
                )
                for model, name, index, *_ in FOREIGN_KEYS
            ],
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name=name,
                    field=models.ForeignKey(
                        blank=optional,
                        db_index=False,
                        null=optional,
                        on_delete=on_delete,
                        related_name=related_name,
                        to=to,
                    ),
                )
                for model, name, _, to, on_delete, related_name, optional in FOREIGN_KEYS
            ],
        ),
    ]
