"""Privacy: data subject requests, the profile suppression list, tombstones of erased identifiers and
an audit log that holds no personal data.

Writes go through ``privacy.services``; reads through ``privacy.selectors``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from people.models import Job, Person


class RequestKind(models.TextChoices):
    ACCESS = "access", "Access (export)"
    PORTABILITY = "portability", "Portability (export)"
    ERASURE = "erasure", "Erasure"
    SUPPRESSION = "suppression", "Suppression"
    UNSUPPRESSION = "unsuppression", "Unsuppression"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class PrivacyRequest(models.Model):
    """One data subject request (OpenDSR v3 shape).

    ``subject_identities`` holds the identifiers as given while the request runs; once an erasure
    completes they are cleared (only ``subject_hashes`` stay), so the request row does not keep what
    it erased.
    """

    class Regulation(models.TextChoices):
        GDPR = "gdpr", "GDPR"
        CCPA = "ccpa", "CCPA"

    subject_request_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    regulation = models.CharField(max_length=8, choices=Regulation.choices, default=Regulation.GDPR)
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    # [{"type": "email", "value": "..."}], normalized; cleared after an erasure.
    subject_identities = models.JSONField(default=list, blank=True)
    subject_hashes = models.JSONField(default=list, blank=True, editable=False)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    status_callback_urls = models.JSONField(default=list, blank=True)

    submitted_time = models.DateTimeField(default=now, help_text="When the subject asked.")
    received_at = models.DateTimeField(default=now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_via = models.CharField(max_length=16, default="admin")  # admin | api
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    # Access and portability: the export (JSON), served at results_url until results_expire_at.
    result = models.JSONField(null=True, blank=True, editable=False)
    results_expire_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Erasure: the receipt (no personal data) and its signature with the organization key.
    receipt = models.JSONField(null=True, blank=True, editable=False)
    receipt_signature = models.CharField(max_length=400, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"], name="privacy_request_status_idx")]
        permissions = [("run_erasure", "Can run erasure requests")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject_request_id}"

    @property
    def is_export(self) -> bool:
        return self.kind in {RequestKind.ACCESS, RequestKind.PORTABILITY}

    @property
    def progress_percent(self) -> int:
        if self.status == RequestStatus.COMPLETED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class Suppression(models.Model):
    """A suppressed profile: messages carrying any identifier of it (now or attached later) are
    dropped at ingestion, actions answer nothing for it."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="privacy_suppression")
    request = models.ForeignKey(
        PrivacyRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Suppression of profile {self.person_id}"


class Tombstone(models.Model):
    """A salted hash of one erased identifier (``type:value``); messages carrying it are dropped."""

    digest = models.CharField(max_length=64, unique=True)
    identifier_type = models.CharField(max_length=64)
    request = models.ForeignKey(
        PrivacyRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["identifier_type"], name="tombstone_type_idx")]

    def __str__(self) -> str:
        return f"{self.identifier_type}:{self.digest[:12]}…"


class AuditEntry(models.Model):
    """What happened to a request, without personal data: identifiers only as salted hashes."""

    request_uuid = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    action = models.CharField(max_length=32)  # received, started, completed, failed, cancelled ...
    actor = models.CharField(max_length=150, blank=True)  # staff username, "system"
    subject_hashes = models.JSONField(default=list, blank=True)
    detail = models.JSONField(default=dict, blank=True)  # counts, error class; never values
    at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.request_uuid} {self.action}"
