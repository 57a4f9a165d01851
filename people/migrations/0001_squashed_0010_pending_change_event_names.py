"""Attune's people app, squashed: the schema of 0001-0010 in one migration (databases that applied
those keep their history: ``replaces``). Beyond Django's tables, on PostgreSQL:

- a BRIN index on event time (range scans of a time-ordered table);
- a GIN index on custom attributes: the admin's custom-attribute filter and audiences use containment
  (``custom @> '{"plan": "pro"}'``);
- trigram indexes for the person search (part of an email, the end of a phone number, name
  prefixes): Django compiles ``email__contains`` to ``email::text LIKE '%…%'`` and
  ``first_name__istartswith`` to ``UPPER(first_name::text) LIKE UPPER('…%')``, the expressions
  below. Without the pg_trgm extension (a managed database that refuses it) the search still works,
  by a scan;
- ``fillfactor = 80`` on people: ingestion rewrites a person's counters on every batch that touches
  them, and PostgreSQL makes such an update HOT (no new index entries) only when no indexed column
  changes and the page has room (docs/performance.md §6);
- the Admin and Marketeer groups (permissions of models added later are granted by
  ``people.roles.sync_roles``, run by ``migrate`` through a post_migrate hook);
- the django-q2 schedule that drains people's pending changes every minute.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models

from people.migration_ops import DJANGO_Q_DEPENDENCY, now, schedule_functions

create_schedule, delete_schedule = schedule_functions(
    name="people: refresh changed people",
    func="people.tasks.drain_changes",
    schedule_type="I",
    minutes=1,
    next_run=now,
)

TRIGRAM_INDEXES = {
    "person_email_trgm": "(email::text) gin_trgm_ops",
    "person_phone_trgm": "(phone::text) gin_trgm_ops",
    "person_first_name_trgm": "(UPPER(first_name::text)) gin_trgm_ops",
    "person_last_name_trgm": "(UPPER(last_name::text)) gin_trgm_ops",
}
INDEXES = {
    "event_time_brin": "people_event USING brin (timestamp)",
    "person_custom_gin": "people_person USING gin (custom jsonb_path_ops)",
}


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="Admin")
    Group.objects.get_or_create(name="Marketeer")


def postgresql_storage(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    schema_editor.execute("ALTER TABLE people_person SET (fillfactor = 80)")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in TRIGRAM_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON people_person USING gin ({expression})")


def drop_postgresql_storage(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*INDEXES, *TRIGRAM_INDEXES]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("ALTER TABLE people_person RESET (fillfactor)")


class Migration(migrations.Migration):

    replaces = [
        ('people', '0001_initial'),
        ('people', '0002_roles_and_event_time_brin'),
        ('people', '0003_custom_attributes_gin'),
        ('people', '0004_event_fk_without_indexes'),
        ('people', '0005_event_retention_days_and_merged_children_deleted_with_parent'),
        ('people', '0006_person_search_trigram'),
        ('people', '0007_organization_webhook_signing_key_previous'),
        ('people', '0008_person_counters_hot_updates'),
        ('people', '0009_pending_changes'),
        ('people', '0010_pending_change_event_names'),
    ]

    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        DJANGO_Q_DEPENDENCY,
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Channel',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(help_text='Cannot change once created.', max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_]*$', 'Use lower-case letters, digits and underscores, starting with a letter.')])),
                ('name', models.CharField(max_length=200)),
                ('schema_enforcement', models.CharField(choices=[('permissive', 'Permissive (accept undefined events, list them)'), ('strict', 'Strict (reject undefined events and properties)')], default='permissive', max_length=16)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['key'],
            },
        ),
        migrations.CreateModel(
            name='EventDefinition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, unique=True)),
                ('description', models.TextField(blank=True)),
                ('is_contact', models.BooleanField(default=False, help_text='Receiving this event records a contact (e.g. Email Sent, SMS Delivered).')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='OrganizationSettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('timezone', models.CharField(help_text="Governs 'today', calendar days and action time ranges.", max_length=64)),
                ('webhook_signing_key', models.CharField(blank=True, max_length=128)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('event_retention_days', models.PositiveIntegerField(blank=True, help_text='Events older than this many days are deleted by a daily job. Empty: kept forever.', null=True)),
                ('webhook_signing_key_previous', models.CharField(blank=True, help_text='The key before the last rotation; it signs too until the rotation is finished.', max_length=128)),
            ],
            options={
                'verbose_name': 'organization settings',
                'verbose_name_plural': 'organization settings',
                'permissions': [('manage_organization', 'Can manage organization settings')],
            },
        ),
        migrations.CreateModel(
            name='PendingChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('person_id', models.BigIntegerField()),
                ('reason', models.CharField(max_length=32)),
                ('events', models.JSONField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='AttributeDefinition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_]*$', 'Use lower-case letters, digits and underscores, starting with a letter.')])),
                ('label', models.CharField(max_length=200)),
                ('description', models.TextField(blank=True)),
                ('type', models.CharField(choices=[('text', 'Text'), ('decimal', 'Decimal number'), ('integer', 'Whole number'), ('boolean', 'True/false'), ('date', 'Date'), ('datetime', 'Date and time'), ('list', 'List of objects')], max_length=16)),
                ('item_schema', models.JSONField(blank=True, default=list, help_text='For lists: the fields of each item, e.g. [{"key": "sku", "type": "text"}].')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['key'],
            },
        ),
        migrations.CreateModel(
            name='ContextDefinition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('description', models.TextField(blank=True)),
                ('channel', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='context_definition', to='people.channel')),
            ],
        ),
        migrations.CreateModel(
            name='Person',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('uid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name='unified id')),
                ('kind', models.CharField(choices=[('person', 'Person'), ('company', 'Company')], default='person', max_length=16)),
                ('first_name', models.CharField(blank=True, max_length=200)),
                ('last_name', models.CharField(blank=True, max_length=200)),
                ('email', models.CharField(blank=True, max_length=254)),
                ('phone', models.CharField(blank=True, max_length=32, verbose_name='phone (E.164)')),
                ('gender', models.CharField(blank=True, choices=[('female', 'Female'), ('male', 'Male'), ('other', 'Other')], max_length=16)),
                ('birth_date', models.DateField(blank=True, null=True)),
                ('city', models.CharField(blank=True, max_length=200)),
                ('region', models.CharField(blank=True, max_length=200)),
                ('country', models.CharField(blank=True, max_length=64)),
                ('timezone', models.CharField(blank=True, max_length=64)),
                ('language', models.CharField(blank=True, max_length=32)),
                ('membership_level', models.CharField(blank=True, max_length=64)),
                ('custom', models.JSONField(blank=True, default=dict)),
                ('attribute_meta', models.JSONField(blank=True, default=dict, editable=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('modified_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('first_seen_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('last_activity_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('event_count', models.PositiveIntegerField(default=0, editable=False)),
                ('session_count', models.PositiveIntegerField(default=0, editable=False)),
                ('last_contacted_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('merged_into', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='merged_children', to='people.person')),
            ],
            options={
                'verbose_name_plural': 'people',
            },
        ),
        migrations.CreateModel(
            name='PersonChannelContact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_contacted_at', models.DateTimeField()),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='people.channel')),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='channel_contacts', to='people.person')),
            ],
        ),
        migrations.CreateModel(
            name='Source',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('key', models.CharField(editable=False, help_text='Public key.', max_length=40, unique=True)),
                ('write_key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('write_key_hint', models.CharField(editable=False, help_text='Last characters.', max_length=8)),
                ('protection', models.CharField(choices=[('create_update', 'Create & update'), ('update_only', 'Update only (unknown people are dropped)'), ('read_only', 'Read only (nothing is written to profiles)')], default='create_update', max_length=16)),
                ('priority', models.PositiveSmallIntegerField(choices=[(1, 'Calculated'), (2, 'Account'), (3, 'Custom feed'), (4, 'SDK'), (5, 'CSV'), (6, 'Partner feed')], default=4)),
                ('enabled', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('key_rotated_at', models.DateTimeField(blank=True, null=True)),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sources', to='people.channel')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='RejectedMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('reason_code', models.CharField(max_length=64)),
                ('reason', models.TextField()),
                ('message_id', models.CharField(blank=True, max_length=128)),
                ('message_type', models.CharField(blank=True, max_length=32)),
                ('payload', models.JSONField(blank=True, null=True)),
                ('source', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.source')),
            ],
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('type', models.CharField(default='track', max_length=16)),
                ('name', models.CharField(max_length=200)),
                ('timestamp', models.DateTimeField(help_text='Event time, corrected for client clock skew.')),
                ('original_timestamp', models.DateTimeField(blank=True, null=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('properties', models.JSONField(blank=True, default=dict)),
                ('context', models.JSONField(blank=True, default=dict)),
                ('message_id', models.CharField(blank=True, max_length=128)),
                ('channel', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.channel')),
                ('person', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='people.person')),
                ('source', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.source')),
            ],
        ),
        migrations.CreateModel(
            name='AttributeChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=64)),
                ('old_value', models.JSONField(blank=True, null=True)),
                ('new_value', models.JSONField(blank=True, null=True)),
                ('operation', models.CharField(max_length=16)),
                ('effective_at', models.DateTimeField(help_text='Event time of the write.')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attribute_changes', to='people.person')),
                ('source', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.source')),
            ],
        ),
        migrations.CreateModel(
            name='ContextPropertyDefinition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=128)),
                ('type', models.CharField(choices=[('text', 'Text'), ('decimal', 'Decimal number'), ('integer', 'Whole number'), ('boolean', 'True/false'), ('date', 'Date'), ('datetime', 'Date and time'), ('list', 'List of objects')], default='text', max_length=16)),
                ('regex', models.CharField(blank=True, help_text='Checked against the raw value before casting.', max_length=500)),
                ('required', models.BooleanField(default=False)),
                ('description', models.CharField(blank=True, max_length=500)),
                ('definition', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='properties', to='people.contextdefinition')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('definition', 'key'), name='uniq_context_property_key')],
            },
        ),
        migrations.CreateModel(
            name='EventPropertyDefinition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=128)),
                ('type', models.CharField(choices=[('text', 'Text'), ('decimal', 'Decimal number'), ('integer', 'Whole number'), ('boolean', 'True/false'), ('date', 'Date'), ('datetime', 'Date and time'), ('list', 'List of objects')], default='text', max_length=16)),
                ('regex', models.CharField(blank=True, help_text='Checked against the raw value before casting.', max_length=500)),
                ('required', models.BooleanField(default=False)),
                ('description', models.CharField(blank=True, max_length=500)),
                ('definition', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='properties', to='people.eventdefinition')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('definition', 'key'), name='uniq_event_property_key')],
            },
        ),
        migrations.CreateModel(
            name='Job',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=64)),
                ('params', models.JSONField(blank=True, default=dict)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='queued', max_length=16)),
                ('progress_done', models.BigIntegerField(default=0)),
                ('progress_total', models.BigIntegerField(default=0)),
                ('result', models.JSONField(blank=True, default=dict)),
                ('error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['status', 'created_at'], name='job_status_idx')],
            },
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['email'], name='person_email_idx'),
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['phone'], name='person_phone_idx'),
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['last_name', 'first_name'], name='person_name_idx'),
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['country'], name='person_country_idx'),
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(fields=['last_contacted_at'], name='person_last_contacted_idx'),
        ),
        migrations.AddIndex(
            model_name='personchannelcontact',
            index=models.Index(fields=['channel', 'last_contacted_at'], name='contact_channel_time_idx'),
        ),
        migrations.AddConstraint(
            model_name='personchannelcontact',
            constraint=models.UniqueConstraint(fields=('person', 'channel'), name='uniq_person_channel_contact'),
        ),
        migrations.AddIndex(
            model_name='rejectedmessage',
            index=models.Index(fields=['received_at'], name='rejected_received_idx'),
        ),
        migrations.AddIndex(
            model_name='rejectedmessage',
            index=models.Index(fields=['source', 'received_at'], name='rejected_source_idx'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['person', 'timestamp'], name='event_person_time_idx'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['name', 'timestamp'], name='event_name_time_idx'),
        ),
        migrations.AddIndex(
            model_name='attributechange',
            index=models.Index(fields=['person', '-recorded_at'], name='attrchange_person_idx'),
        ),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(postgresql_storage, drop_postgresql_storage),
        migrations.RunPython(create_schedule, delete_schedule),
    ]
