"""Identity resolution and ingestion data: identifier types (policy as data), identities, merges,
the messageId dedupe table, Profile API access tokens, suppressed identifiers, per-source daily
counters and the "seen but undefined" list.

Writes go through ``identity.services``; reads through ``identity.selectors``.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.timezone import now

from people.credentials import hash_credential, new_credential
from people.models import Channel, Person, Source


class IdentifierType(models.Model):
    """One kind of identifier (user_id, email, anonymous_id ...) and its resolution policy."""

    class Normalizer(models.TextChoices):
        TRIM = "trim", "Trim whitespace"
        EMAIL = "email", "Email (trimmed, lower-case)"
        PHONE = "phone", "Phone (E.164)"
        LOWER = "lower", "Trimmed, lower-case"

    key = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z][a-z0-9_.]*$", "Lower-case letters, digits, dots and underscores.")
        ],
        help_text="As clients name it: user_id, email, ios.idfa, or a custom externalIds type.",
    )
    label = models.CharField(max_length=200, blank=True)
    priority = models.PositiveSmallIntegerField(
        default=100,
        help_text="Lower wins. Over a limit, the message's lowest-priority identifier is dropped.",
    )
    limit = models.PositiveIntegerField(
        default=5,
        help_text="At most this many values on one profile. Tightening it affects future merges only.",
    )
    anonymous = models.BooleanField(default=False, help_text="Identifies a device or browser, not a person.")
    normalizer = models.CharField(max_length=16, choices=Normalizer.choices, default=Normalizer.TRIM)
    blocked_values = models.JSONField(
        default=list, blank=True, help_text='Exact values that never link anyone, e.g. ["null", "-1"].'
    )
    blocked_patterns = models.JSONField(
        default=list, blank=True, help_text='Regular expressions (full match), e.g. ["^[0-]*$"].'
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["priority", "key"]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        errors = []
        if not isinstance(self.blocked_values, list) or not all(
            isinstance(v, str) for v in self.blocked_values
        ):
            errors.append("Blocked values must be a list of strings.")
        if not isinstance(self.blocked_patterns, list):
            errors.append("Blocked patterns must be a list of regular expressions.")
        else:
            for pattern in self.blocked_patterns:
                try:
                    re.compile(pattern)
                except (re.error, TypeError) as exc:
                    errors.append(f"Invalid pattern {pattern!r}: {exc}")
        if self.limit < 1:
            errors.append("The limit must be at least 1.")
        if errors:
            raise ValidationError({"blocked_values": errors})


class Identity(models.Model):
    """One identifier value of one profile. (type, value) is unique: an identifier names one person.

    Four indexes, each with a reader: (type, value) finds an identifier, (person, type) a profile's
    identifiers, value the person search, the primary key. Ingestion inserts identities and every
    merge re-points them, so each further index is a write per row: the foreign keys get none of
    their own (type and person lead the two composite ones; nothing reads identities by channel or
    source, so deleting a source or a channel scans them, a rare admin step)."""

    type = models.ForeignKey(
        IdentifierType, on_delete=models.PROTECT, related_name="identities", db_index=False
    )
    value = models.CharField(max_length=255)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identities", db_index=False)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    anonymous = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(default=now)
    first_message_id = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["type", "value"], name="uniq_identity_type_value")]
        indexes = [
            models.Index(fields=["person", "type"], name="identity_person_type_idx"),
            models.Index(fields=["value"], name="identity_value_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type_id and self.type.key}:{self.value}"


class Merge(models.Model):
    """A child profile merged into a parent, with the snapshot that lets it be undone.

    Parent and child are read through ``merge_parent_idx`` and ``merge_child_idx``; their foreign
    keys get no index of their own (each merge writes a row), nor does the source (as identities)."""

    class Reason(models.TextChoices):
        RESOLUTION = "resolution", "Shared identifier"
        ALIAS = "alias", "Alias call"
        MANUAL = "manual", "Manual merge"

    parent = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="merges_as_parent", db_index=False
    )
    child = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="merges_as_child", db_index=False
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    message_id = models.CharField(max_length=128, blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    snapshot = models.JSONField(default=dict, editable=False)
    created_at = models.DateTimeField(default=now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["parent", "-created_at"], name="merge_parent_idx"),
            models.Index(fields=["child"], name="merge_child_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.child_id} → {self.parent_id}"


class SeenMessage(models.Model):
    """messageIds already accepted (dedupe); pruned after ``INGEST_DEDUPE_HOURS``."""

    message_id = models.CharField(max_length=160, unique=True)
    received_at = models.DateTimeField(default=now, db_index=True)

    def __str__(self) -> str:
        return self.message_id


class AccessToken(models.Model):
    """A secret, read-only Profile API token. Shown once; only its hash is stored."""

    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=8, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "Profile API token"
        verbose_name_plural = "Profile API tokens"

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_token(raw: str) -> str:
        return hash_credential(raw)

    @staticmethod
    def new_token() -> str:
        return new_credential("pat_", 32)


class SuppressedIdentifier(models.Model):
    """Messages carrying a suppressed identifier are dropped (and still answered 200)."""

    type = models.ForeignKey(IdentifierType, on_delete=models.CASCADE, related_name="+")
    value = models.CharField(max_length=255)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["type", "value"], name="uniq_suppressed_identifier")]

    def __str__(self) -> str:
        return f"{self.type.key}:{self.value}"


class SourceDailyStat(models.Model):
    """Messages per source per day (organization timezone): accepted, rejected, dropped, duplicates."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0, help_text="Unknown people on Update/Read Only sources.")
    suppressed = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "source activity"
        verbose_name_plural = "source activity"
        constraints = [models.UniqueConstraint(fields=["source", "day"], name="uniq_source_day_stat")]

    def __str__(self) -> str:
        return f"{self.source} {self.day}"


class SeenUndefined(models.Model):
    """Something a permissive channel accepted without a definition, for an admin to promote."""

    class Kind(models.TextChoices):
        EVENT = "event", "Event"
        PROPERTY = "property", "Event property"
        TRAIT = "trait", "Trait"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    event_name = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=200, blank=True)
    example = models.JSONField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = "seen but undefined"
        verbose_name_plural = "seen but undefined"
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "channel", "event_name", "key"], name="uniq_seen_undefined"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.event_name} {self.key}".strip()


class GroupMembership(models.Model):
    """A person linked to a company profile by a ``group`` call."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="group_memberships")
    company = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="members")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "company"], name="uniq_group_membership")]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.company_id}"


class InboundBatch(models.Model):
    """A tracking request accepted durably and not processed yet (``INGEST_MODE = "queued"``).

    The endpoint answers 200 once this row is committed; a django-q2 task processes pending rows
    with ``ingest_batch`` and deletes them. A batch that fails stays here with its error (admin:
    *Inbound batches*, action *Retry*); a replay is harmless because messageIds are deduplicated.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    context = models.JSONField(null=True, blank=True)
    integrations = models.JSONField(null=True, blank=True)
    path_type = models.CharField(max_length=16, blank=True)
    body_bytes = models.PositiveIntegerField(default=0)
    messages = models.JSONField(default=list)
    count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "inbound batches"
        indexes = [models.Index(fields=["status", "id"], name="inbound_status_idx")]

    def __str__(self) -> str:
        return f"{self.count} messages from {self.source_id} at {self.received_at:%Y-%m-%d %H:%M:%S}"
