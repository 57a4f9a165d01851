"""Values keyed by (attribute, person) with one index on person: fewer indexes to maintain on bulk
writes. Values are recomputable, so the table is recreated (reactivate attributes after migrating)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("computed", "0003_values_without_db_constraints"),
        ("people", "0002_roles_and_event_time_brin"),
    ]

    operations = [
        migrations.DeleteModel(name="ComputedValue"),
        migrations.CreateModel(
            name="ComputedValue",
            fields=[
                ("pk", models.CompositePrimaryKey("attribute", "person", blank=True, editable=False, primary_key=True, serialize=False)),
                (
                    "attribute",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="computed.computedattribute",
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="computed_values",
                        to="people.person",
                    ),
                ),
                ("number", models.FloatField(blank=True, null=True)),
                ("text", models.TextField(blank=True, null=True)),
                ("flag", models.BooleanField(blank=True, null=True)),
                ("day", models.DateField(blank=True, null=True)),
                ("moment", models.DateTimeField(blank=True, null=True)),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "indexes": [models.Index(fields=["person"], name="computed_value_person_idx")],
            },
        ),
    ]
