"""Attune's computed app, squashed: the schema of 0001-0006 in one migration (databases that applied
those keep their history: ``replaces``) and the daily django-q2 schedule that re-evaluates sliding
windows.

On PostgreSQL the values are partitioned by attribute (LIST on ``attribute_id``, one partition per
attribute, a DEFAULT partition for attributes without one of their own): a first activation loads a
new, index-free table, builds its two indexes afterwards (sorted builds instead of ~2 M random index
insertions) and attaches it as the attribute's partition, about half the cost of inserting into the
indexed table. SQLite (development) keeps the plain table. The logical schema is the same, so
Django's migration state is too.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from people.migration_ops import DJANGO_Q_DEPENDENCY, schedule_functions, tomorrow_at

create_schedule, delete_schedule = schedule_functions(
    name="computed: daily re-evaluation of sliding windows",
    func="computed.tasks.reevaluate_windows",
    schedule_type="D",
    next_run=tomorrow_at(2),
)
TABLE = "computed_computedvalue"


def partition_values(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"CREATE TABLE {TABLE}_new (LIKE {TABLE} INCLUDING DEFAULTS) PARTITION BY LIST (attribute_id)")
    execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE}_new DEFAULT")
    execute(f"DROP TABLE {TABLE}")
    execute(f"ALTER TABLE {TABLE}_new RENAME TO {TABLE}")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (attribute_id, person_id)")
    execute(f"CREATE INDEX computed_value_person_idx ON {TABLE} (person_id)")


def unpartition_values(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"CREATE TABLE {TABLE}_old (LIKE {TABLE} INCLUDING DEFAULTS)")
    execute(f"DROP TABLE {TABLE} CASCADE")
    execute(f"ALTER TABLE {TABLE}_old RENAME TO {TABLE}")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (attribute_id, person_id)")
    execute(f"CREATE INDEX computed_value_person_idx ON {TABLE} (person_id)")


class Migration(migrations.Migration):

    replaces = [
        ('computed', '0001_initial'),
        ('computed', '0002_daily_reevaluation_schedule'),
        ('computed', '0003_values_without_db_constraints'),
        ('computed', '0004_value_composite_primary_key'),
        ('computed', '0005_values_partitioned_by_attribute'),
        ('computed', '0006_out_of_range'),
    ]

    initial = True

    dependencies = [
        DJANGO_Q_DEPENDENCY,
        ('people', '0001_squashed_0010_pending_change_event_names'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ComputedAttribute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(help_text='Unique among all attributes (standard, custom and computed).', max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_]*$', 'Use lower-case letters, digits and underscores, starting with a letter.')])),
                ('name', models.CharField(max_length=200)),
                ('description', models.TextField(blank=True)),
                ('kind', models.CharField(choices=[('formula', 'Custom formula'), ('aggregate', 'Event aggregate'), ('score', 'Profile score')], max_length=16)),
                ('definition', models.JSONField(default=dict, help_text='The formula, aggregate or scoring model.')),
                ('output_type', models.CharField(choices=[('text', 'Text'), ('decimal', 'Decimal number'), ('integer', 'Whole number'), ('boolean', 'True/false'), ('date', 'Date'), ('datetime', 'Date and time'), ('list', 'List of objects')], editable=False, max_length=16)),
                ('group', models.CharField(blank=True, help_text="A set created together, e.g. 'purchase_statistics'.", max_length=64)),
                ('state', models.CharField(choices=[('draft', 'Draft'), ('processing', 'Processing'), ('active', 'Active'), ('disabled', 'Disabled')], default='draft', max_length=16)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('activated_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('last_computed_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('error_count', models.PositiveIntegerField(default=0, editable=False)),
                ('last_error', models.TextField(blank=True, editable=False)),
                ('last_error_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('activated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.job')),
                ('out_of_range_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('dependencies', models.ManyToManyField(blank=True, editable=False, related_name='dependents', to='computed.computedattribute')),
                ('out_of_range_count', models.PositiveIntegerField(default=0, editable=False, help_text='Profiles whose value was left empty because a step of the computation went out of the supported range (at the last full computation, plus refreshes since).')),
                ('out_of_range_reason', models.TextField(blank=True, editable=False)),
            ],
            options={
                'ordering': ['key'],
            },
        ),
        migrations.CreateModel(
            name='ComputedValue',
            fields=[
                ('pk', models.CompositePrimaryKey('attribute', 'person', blank=True, editable=False, primary_key=True, serialize=False)),
                ('attribute', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='values', to='computed.computedattribute')),
                ('person', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='computed_values', to='people.person')),
                ('number', models.FloatField(blank=True, null=True)),
                ('text', models.TextField(blank=True, null=True)),
                ('flag', models.BooleanField(blank=True, null=True)),
                ('day', models.DateField(blank=True, null=True)),
                ('moment', models.DateTimeField(blank=True, null=True)),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddIndex(
            model_name='computedattribute',
            index=models.Index(fields=['state', 'kind'], name='computed_state_kind_idx'),
        ),
        migrations.AddIndex(
            model_name='computedvalue',
            index=models.Index(fields=['person'], name='computed_value_person_idx'),
        ),
        migrations.RunPython(partition_values, unpartition_values),
        migrations.RunPython(create_schedule, delete_schedule),
    ]
