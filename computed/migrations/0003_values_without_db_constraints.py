import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("computed", "0002_daily_reevaluation_schedule"),
        ("people", "0002_roles_and_event_time_brin"),
    ]

    operations = [
        migrations.AlterField(
            model_name="computedvalue",
            name="attribute",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="values",
                to="computed.computedattribute",
            ),
        ),
        migrations.AlterField(
            model_name="computedvalue",
            name="person",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="computed_values",
                to="people.person",
            ),
        ),
    ]
