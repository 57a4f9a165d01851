"""PostgreSQL: values partitioned by attribute (LIST on attribute_id), one partition per attribute.

First activation then loads a new, index-free table and builds its two indexes afterwards (sorted
builds instead of ~2 M random index insertions), and attaches it as the attribute's partition:
about half the cost of inserting into the indexed table. A DEFAULT partition takes rows of
attributes that have no partition of their own. SQLite (development) keeps the plain table.
The logical schema is unchanged, so Django's migration state is too.
"""

from django.db import migrations

TABLE = "computed_computedvalue"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT attribute_id FROM {TABLE} ORDER BY 1")
        ids = [row[0] for row in cursor.fetchall()]
    execute(f"CREATE TABLE {TABLE}_new (LIKE {TABLE} INCLUDING DEFAULTS) PARTITION BY LIST (attribute_id)")
    execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE}_new DEFAULT")
    for pk in ids:
        execute(f"CREATE TABLE {TABLE}_a{int(pk)} PARTITION OF {TABLE}_new FOR VALUES IN ({int(pk)})")
    execute(f"INSERT INTO {TABLE}_new SELECT * FROM {TABLE}")
    execute(f"DROP TABLE {TABLE}")
    execute(f"ALTER TABLE {TABLE}_new RENAME TO {TABLE}")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (attribute_id, person_id)")
    execute(f"CREATE INDEX computed_value_person_idx ON {TABLE} (person_id)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"CREATE TABLE {TABLE}_old (LIKE {TABLE} INCLUDING DEFAULTS)")
    execute(f"INSERT INTO {TABLE}_old SELECT * FROM {TABLE}")
    execute(f"DROP TABLE {TABLE} CASCADE")
    execute(f"ALTER TABLE {TABLE}_old RENAME TO {TABLE}")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (attribute_id, person_id)")
    execute(f"CREATE INDEX computed_value_person_idx ON {TABLE} (person_id)")


class Migration(migrations.Migration):
    atomic = True

    dependencies = [("computed", "0004_value_composite_primary_key")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
