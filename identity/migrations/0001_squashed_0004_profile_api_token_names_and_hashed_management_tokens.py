"""Attune's identity app, squashed: the schema of 0001-0004 in one migration (databases that applied
those keep their history: ``replaces``), the default identifier types, and two django-q2 schedules:
pruning the dedupe keys (hourly) and processing inbound batches left by a crash (every minute)."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from identity.defaults import DEFAULT_TYPES, default_type_fields
from people.migration_ops import DJANGO_Q_DEPENDENCY, schedule_functions

create_prune_schedule, delete_prune_schedule = schedule_functions(
    name="identity: prune dedupe keys", func="identity.tasks.prune_seen_messages", schedule_type="H"
)
create_inbound_schedule, delete_inbound_schedule = schedule_functions(
    name="identity: process inbound batches",
    func="identity.tasks.process_inbound",
    schedule_type="I",
    minutes=1,
)


def create_defaults(apps, schema_editor):
    IdentifierType = apps.get_model("identity", "IdentifierType")
    for row in DEFAULT_TYPES:
        IdentifierType.objects.get_or_create(key=row[0], defaults=default_type_fields(*row))
    create_prune_schedule(apps, schema_editor)
    create_inbound_schedule(apps, schema_editor)


def remove_defaults(apps, schema_editor):
    delete_prune_schedule(apps, schema_editor)
    delete_inbound_schedule(apps, schema_editor)


class Migration(migrations.Migration):

    replaces = [
        ('identity', '0001_initial'),
        ('identity', '0002_default_identifier_types'),
        ('identity', '0003_inbound_batch'),
        ('identity', '0004_profile_api_token_names_and_hashed_management_tokens'),
    ]

    initial = True

    dependencies = [
        DJANGO_Q_DEPENDENCY,
        ('people', '0001_squashed_0010_pending_change_event_names'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='IdentifierType',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(help_text='As clients name it: user_id, email, ios.idfa, or a custom externalIds type.', max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_.]*$', 'Lower-case letters, digits, dots and underscores.')])),
                ('label', models.CharField(blank=True, max_length=200)),
                ('priority', models.PositiveSmallIntegerField(default=100, help_text="Lower wins. Over a limit, the message's lowest-priority identifier is dropped.")),
                ('limit', models.PositiveIntegerField(default=5, help_text='At most this many values on one profile. Tightening it affects future merges only.')),
                ('anonymous', models.BooleanField(default=False, help_text='Identifies a device or browser, not a person.')),
                ('normalizer', models.CharField(choices=[('trim', 'Trim whitespace'), ('email', 'Email (trimmed, lower-case)'), ('phone', 'Phone (E.164)'), ('lower', 'Trimmed, lower-case')], default='trim', max_length=16)),
                ('blocked_values', models.JSONField(blank=True, default=list, help_text='Exact values that never link anyone, e.g. ["null", "-1"].')),
                ('blocked_patterns', models.JSONField(blank=True, default=list, help_text='Regular expressions (full match), e.g. ["^[0-]*$"].')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['priority', 'key'],
            },
        ),
        migrations.CreateModel(
            name='SeenMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('message_id', models.CharField(max_length=160, unique=True)),
                ('received_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='AccessToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('token_hint', models.CharField(editable=False, max_length=8)),
                ('enabled', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('last_used_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'Profile API token',
                'verbose_name_plural': 'Profile API tokens',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='GroupMembership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='people.person')),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='group_memberships', to='people.person')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('person', 'company'), name='uniq_group_membership')],
            },
        ),
        migrations.CreateModel(
            name='Identity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.CharField(max_length=255)),
                ('anonymous', models.BooleanField(default=False)),
                ('first_seen_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('first_message_id', models.CharField(blank=True, max_length=128)),
                ('channel', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.channel')),
                ('person', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identities', to='people.person')),
                ('source', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.source')),
                ('type', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='identities', to='identity.identifiertype')),
            ],
            options={
                'verbose_name_plural': 'identities',
                'indexes': [models.Index(fields=['person', 'type'], name='identity_person_type_idx'), models.Index(fields=['value'], name='identity_value_idx')],
                'constraints': [models.UniqueConstraint(fields=('type', 'value'), name='uniq_identity_type_value')],
            },
        ),
        migrations.CreateModel(
            name='InboundBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('received_at', models.DateTimeField()),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('context', models.JSONField(blank=True, null=True)),
                ('integrations', models.JSONField(blank=True, null=True)),
                ('path_type', models.CharField(blank=True, max_length=16)),
                ('body_bytes', models.PositiveIntegerField(default=0)),
                ('messages', models.JSONField(default=list)),
                ('count', models.PositiveIntegerField(default=0)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('failed', 'Failed')], default='pending', max_length=16)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('error', models.TextField(blank=True)),
                ('failed_at', models.DateTimeField(blank=True, null=True)),
                ('source', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='people.source')),
            ],
            options={
                'verbose_name_plural': 'inbound batches',
                'indexes': [models.Index(fields=['status', 'id'], name='inbound_status_idx')],
            },
        ),
        migrations.CreateModel(
            name='Merge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reason', models.CharField(choices=[('resolution', 'Shared identifier'), ('alias', 'Alias call'), ('manual', 'Manual merge')], max_length=16)),
                ('message_id', models.CharField(blank=True, max_length=128)),
                ('snapshot', models.JSONField(default=dict, editable=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('undone_at', models.DateTimeField(blank=True, null=True)),
                ('child', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='merges_as_child', to='people.person')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('parent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='merges_as_parent', to='people.person')),
                ('source', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='people.source')),
                ('undone_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['parent', '-created_at'], name='merge_parent_idx'), models.Index(fields=['child'], name='merge_child_idx')],
            },
        ),
        migrations.CreateModel(
            name='SeenUndefined',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('event', 'Event'), ('property', 'Event property'), ('trait', 'Trait')], max_length=16)),
                ('event_name', models.CharField(blank=True, max_length=200)),
                ('key', models.CharField(blank=True, max_length=200)),
                ('example', models.JSONField(blank=True, null=True)),
                ('count', models.PositiveIntegerField(default=0)),
                ('first_seen_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='people.channel')),
            ],
            options={
                'verbose_name': 'seen but undefined',
                'verbose_name_plural': 'seen but undefined',
                'ordering': ['-last_seen_at'],
                'constraints': [models.UniqueConstraint(fields=('kind', 'channel', 'event_name', 'key'), name='uniq_seen_undefined')],
            },
        ),
        migrations.CreateModel(
            name='SourceDailyStat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('accepted', models.PositiveIntegerField(default=0)),
                ('rejected', models.PositiveIntegerField(default=0)),
                ('dropped', models.PositiveIntegerField(default=0, help_text='Unknown people on Update/Read Only sources.')),
                ('suppressed', models.PositiveIntegerField(default=0)),
                ('duplicates', models.PositiveIntegerField(default=0)),
                ('source', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='people.source')),
            ],
            options={
                'verbose_name': 'source activity',
                'verbose_name_plural': 'source activity',
                'constraints': [models.UniqueConstraint(fields=('source', 'day'), name='uniq_source_day_stat')],
            },
        ),
        migrations.CreateModel(
            name='SuppressedIdentifier',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.CharField(max_length=255)),
                ('reason', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('type', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='identity.identifiertype')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('type', 'value'), name='uniq_suppressed_identifier')],
            },
        ),
        migrations.RunPython(create_defaults, remove_defaults),
    ]
