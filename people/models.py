"""The people data model: profiles, their attributes, events, channels and sources, jobs.

Writes go through ``people.services``; reads through ``people.selectors`` and the querysets in
``people.querysets``. Models hold data and small invariants only.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.timezone import now

from people.credentials import hash_credential, new_credential
from people.querysets import EventQuerySet, PersonQuerySet

key_validator = RegexValidator(
    r"^[a-z][a-z0-9_]*$",
    "Use lower-case letters, digits and underscores, starting with a letter.",
)


def key_field(help_text: str = "") -> models.CharField:
    """The key of a channel, a custom attribute or a definition: unique, at most 64 characters that
    ``key_validator`` allows; ``help_text`` says what else holds for this kind of key."""
    return models.CharField(max_length=64, unique=True, validators=[key_validator], help_text=help_text)


def bulk_row_key(to: type[models.Model] | str, *, related_name: str) -> models.ForeignKey:
    """The foreign key of a row that set-based statements write by the million (computed values,
    audience memberships and their history): no index of its own (the table's primary key and indexes
    serve its reads) and no database constraint (per-row checks would cost more than the statement);
    deleting what it names deletes the row, in the ORM."""
    return models.ForeignKey(
        to, on_delete=models.CASCADE, related_name=related_name, db_index=False, db_constraint=False
    )


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    DECIMAL = "decimal", "Decimal number"
    INTEGER = "integer", "Whole number"
    BOOLEAN = "boolean", "True/false"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    LIST = "list", "List of objects"


class OrganizationSettingsManager(models.Manager):
    CACHE_KEY = "attune:organization"

    def get_current(self) -> OrganizationSettings:
        """The one row, created from the environment on first use (like ``Site.objects.get_current``).

        Read on hot paths (every ingested batch, "today" in filters), so it is kept in Django's
        cache (``CACHES``) for a minute. ``people.services.organization_settings_update`` deletes
        it after commit: every process sharing that cache (Redis, Memcached) sees the change at
        once; with the default per-process memory cache only the saving process does, the others
        within a minute."""
        cached = cache.get(self.CACHE_KEY)
        if cached is not None:
            return cached
        org = self.filter(pk=1).first()
        if org is None:
            org, _ = self.get_or_create(
                pk=1,
                defaults={"name": settings.ORGANIZATION_NAME, "timezone": settings.ORGANIZATION_TIMEZONE},
            )
        cache.set(self.CACHE_KEY, org, timeout=60)
        return org


class OrganizationSettings(models.Model):
    """The one organization of this deployment. First filled from the environment."""

    name = models.CharField(max_length=200)
    timezone = models.CharField(
        max_length=64, help_text="Governs 'today', calendar days and action time ranges."
    )
    webhook_signing_key = models.CharField(max_length=128, blank=True)
    event_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Events older than this many days are deleted by a daily job. Empty: kept forever.",
    )
    webhook_signing_key_previous = models.CharField(
        max_length=128,
        blank=True,
        help_text="The key before the last rotation; it signs too until the rotation is finished.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationSettingsManager()

    class Meta:
        verbose_name = "organization settings"
        verbose_name_plural = "organization settings"
        permissions = [("manage_organization", "Can manage organization settings")]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self, now: datetime | None = None) -> date:
        """The calendar date in the organization's timezone ("today" by default)."""
        return (now or timezone.now()).astimezone(self.zone).date()

    def clean(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"timezone": f"Unknown timezone {self.timezone!r}."}) from exc


class Channel(models.Model):
    class SchemaEnforcement(models.TextChoices):
        PERMISSIVE = "permissive", "Permissive (accept undefined events, list them)"
        STRICT = "strict", "Strict (reject undefined events and properties)"

    key = key_field("Cannot change once created.")
    name = models.CharField(max_length=200)
    schema_enforcement = models.CharField(
        max_length=16, choices=SchemaEnforcement.choices, default=SchemaEnforcement.PERMISSIVE
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class Source(models.Model):
    """Where data comes from. Authenticates with a write key, shown once and stored hashed.

    Segment-style clients send the write key alone (Basic username); mParticle-style clients send
    ``key:secret`` where ``key`` is this source's public key and ``secret`` its write key.
    """

    class Protection(models.TextChoices):
        CREATE_UPDATE = "create_update", "Create & update"
        UPDATE_ONLY = "update_only", "Update only (unknown people are dropped)"
        READ_ONLY = "read_only", "Read only (nothing is written to profiles)"

    class Priority(models.IntegerChoices):
        """Attribute source priority: a lower number wins (mParticle's order)."""

        CALCULATED = 1, "Calculated"
        ACCOUNT = 2, "Account"
        CUSTOM_FEED = 3, "Custom feed"
        SDK = 4, "SDK"
        CSV = 5, "CSV"
        PARTNER_FEED = 6, "Partner feed"

    name = models.CharField(max_length=200)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="sources")
    key = models.CharField(max_length=40, unique=True, editable=False, help_text="Public key.")
    write_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    write_key_hint = models.CharField(max_length=8, editable=False, help_text="Last characters.")
    protection = models.CharField(max_length=16, choices=Protection.choices, default=Protection.CREATE_UPDATE)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.SDK)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)
    key_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_write_key(raw: str) -> str:
        return hash_credential(raw)

    @staticmethod
    def new_write_key() -> str:
        return new_credential("", 24)

    @staticmethod
    def new_public_key() -> str:
        return "src_" + secrets.token_hex(8)


class AttributeDefinition(models.Model):
    """A custom attribute: key, label and a type that cannot change once created."""

    key = key_field()
    label = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=16, choices=AttributeType.choices)
    item_schema = models.JSONField(
        default=list,
        blank=True,
        help_text='For lists: the fields of each item, e.g. [{"key": "sku", "type": "text"}].',
    )
    created_at = models.DateTimeField(default=now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.label or self.key


class Person(models.Model):
    """One unified profile: a person or a company."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        COMPANY = "company", "Company"

    class Gender(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"

    uid = models.UUIDField("unified id", default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSON)

    # Standard attributes (see people.attributes.STANDARD_ATTRIBUTES for their types).
    first_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField("phone (E.164)", max_length=32, blank=True)
    gender = models.CharField(max_length=16, choices=Gender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    city = models.CharField(max_length=200, blank=True)
    region = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=32, blank=True)
    membership_level = models.CharField(max_length=64, blank=True)

    # Custom attributes, keyed by AttributeDefinition.key, values already cast to JSON form.
    custom = models.JSONField(default=dict, blank=True)
    # Per attribute key (standard and custom): {"at": iso time, "source": id|None, "rank": int, "op": str}.
    attribute_meta = models.JSONField(default=dict, blank=True, editable=False)

    # System attributes.
    created_at = models.DateTimeField(default=now, editable=False)
    modified_at = models.DateTimeField(default=now, editable=False)
    first_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_activity_at = models.DateTimeField(null=True, blank=True, editable=False)
    event_count = models.PositiveIntegerField(default=0, editable=False)
    session_count = models.PositiveIntegerField(default=0, editable=False)
    last_contacted_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Identity: a merged child points at its parent and is kept for unmerge; it is not "live".
    # Deleting a parent deletes its merged children (they would otherwise come back as live profiles).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="merged_children"
    )

    objects = PersonQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "people"
        indexes = [
            models.Index(fields=["email"], name="person_email_idx"),
            models.Index(fields=["phone"], name="person_phone_idx"),
            models.Index(fields=["last_name", "first_name"], name="person_name_idx"),
            models.Index(fields=["country"], name="person_country_idx"),
            # No index on the counters (first_seen_at, last_activity_at, event_count, session_count)
            # nor on last_contacted_at: ingestion rewrites the counters on every batch, a delivery
            # (actions, tracked sends) moves last contacted, and an indexed column would make each of
            # those updates a new row version in all of the table's indexes (no HOT update).
            # Migration 0008 also leaves 20% of every page free (fillfactor 80) for those in-page
            # updates; migration 0011 says what the last contacted index served.
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.phone or str(self.uid)

    @property
    def age(self) -> int | None:
        """Whole years, as of today in the organization's timezone."""
        if not self.birth_date:
            return None
        return age_on(self.birth_date, OrganizationSettings.objects.get_current().today())

    @property
    def age_group(self) -> str:
        return age_group_of(self.age)


AGE_GROUPS: list[tuple[int, int | None, str]] = [
    (0, 17, "under 18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, None, "65+"),
]


def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)


def age_group_of(age: int | None) -> str:
    if age is None:
        return ""
    for low, high, label in AGE_GROUPS:
        if age >= low and (high is None or age <= high):
            return label
    return ""


class PersonChannelContact(models.Model):
    """Last time a person was contacted on one channel (the overall time lives on Person)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="channel_contacts")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    last_contacted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "channel"], name="uniq_person_channel_contact")
        ]
        indexes = [models.Index(fields=["channel", "last_contacted_at"], name="contact_channel_time_idx")]


class AttributeChange(models.Model):
    """Audit entry: one attribute of one person changed value."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="attribute_changes")
    key = models.CharField(max_length=64)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    operation = models.CharField(max_length=16)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    effective_at = models.DateTimeField(help_text="Event time of the write.")
    recorded_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["person", "-recorded_at"], name="attrchange_person_idx")]


class PropertySpec(models.Model):
    """A typed property in an event or context schema."""

    key = models.CharField(max_length=128)
    type = models.CharField(max_length=16, choices=AttributeType.choices, default=AttributeType.TEXT)
    regex = models.CharField(
        max_length=500, blank=True, help_text="Checked against the raw value before casting."
    )
    required = models.BooleanField(default=False)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.key} ({self.get_type_display()})"

    def clean(self) -> None:
        import re

        if self.regex:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValidationError({"regex": f"Invalid regular expression: {exc}"}) from exc


class EventDefinition(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    is_contact = models.BooleanField(
        default=False,
        help_text="Receiving this event records a contact (e.g. Email Sent, SMS Delivered).",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EventPropertyDefinition(PropertySpec):
    definition = models.ForeignKey(EventDefinition, on_delete=models.CASCADE, related_name="properties")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["definition", "key"], name="uniq_event_property_key")]


class ContextDefinition(models.Model):
    """The context schema of one channel (device, app, locale ... fields it must or may send)."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="context_definition")
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Context of {self.channel}"


class ContextPropertyDefinition(PropertySpec):
    definition = models.ForeignKey(ContextDefinition, on_delete=models.CASCADE, related_name="properties")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["definition", "key"], name="uniq_context_property_key")
        ]


class Event(models.Model):
    """One tracked event. ``name`` is plain text so deleting a definition keeps the events."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=16, default="track")
    name = models.CharField(max_length=200)
    # No indexes of their own: every index on the event table slows ingestion (COPY) and no selector
    # path needs them; lists filter by person or name, which (person, timestamp) and (name, timestamp) serve.
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    timestamp = models.DateTimeField(help_text="Event time, corrected for client clock skew.")
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=now)
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=128, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["person", "timestamp"], name="event_person_time_idx"),
            models.Index(fields=["name", "timestamp"], name="event_name_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.timestamp:%Y-%m-%d %H:%M}"


class RejectedMessage(models.Model):
    """A message that was not accepted, kept with its reason for inspection (the quarantine)."""

    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=now)
    reason_code = models.CharField(max_length=64)
    reason = models.TextField()
    message_id = models.CharField(max_length=128, blank=True)
    message_type = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["received_at"], name="rejected_received_idx"),
            models.Index(fields=["source", "received_at"], name="rejected_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reason_code}: {self.reason[:60]}"


class PendingChange(models.Model):
    """People changed by a committed transaction whose refreshes (computed attributes, audiences) have
    not run yet: written in the changing transaction, taken by ``people.services.drain_changes``.

    A plain id, not a foreign key: the row is a note about a person that may since have been erased,
    and refreshing an id that is gone does nothing.
    """

    person_id = models.BigIntegerField()
    reason = models.CharField(max_length=32)
    # With reason ``events`` (new events, nothing else about the person changed but the counters the
    # events move): the events' names, so the refreshes skip what does not read them.
    events = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"person {self.person_id} ({self.reason})"


class Job(models.Model):
    """Long work run on django-q2 with progress. Kinds are registered in each app's ``jobs`` module."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    # How a job ended and who started it when: the tail of its admin page and of its API record.
    OUTCOME_FIELDS = ("result", "error", "created_by", "created_at", "started_at", "finished_at")

    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}


class Definition(models.Model):
    """The lifecycle a definition shares with others (computed attributes, audiences): draft →
    processing → active, disabled; the job that processes it; the errors of its runs; who created and
    activated it, and when. Each kind adds its own ``key`` (what its help text says differs)."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PROCESSING = "processing", "Processing"
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    error_count = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name or self.key

    @property
    def is_editable(self) -> bool:
        return self.state == self.State.DRAFT
