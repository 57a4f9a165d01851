"""Audiences: rule and funnel definitions with a versioned, materialized membership.

- ``Audience``: the definition and its lifecycle (draft → processing → active, disabled), plus the
  statistics of its last refresh (member count, when, how long, errors).
- ``AudienceMembership``: the members of one version of an audience. A refresh writes version N+1
  with one ``INSERT … SELECT``, diffs it against version N, and switches ``Audience.version`` in one
  UPDATE; the rows of version N are purged afterwards (PostHog's cohort versions).
- ``MembershipHistory``: every entry and exit (append-only); the hook for webhooks and timelines.
- ``AudienceRefresh``: one row per refresh run (size over time, durations, failures).
- ``RetiredAudienceKey``: keys of deleted audiences, never reused.
"""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from people.models import Definition, Person, bulk_row_key, key_field


class Audience(Definition):
    class Type(models.TextChoices):
        RULES = "rules", "Rules"
        FUNNEL = "funnel", "Funnel"

    key = key_field("Unique forever (a deleted audience's key is never reused); the Profile API trait name.")
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.RULES)
    include_anonymous = models.BooleanField(
        default=False, help_text="Also profiles known only by anonymous identifiers (fixed at creation)."
    )
    definition = models.JSONField(default=dict, blank=True)
    duplicated_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    uses = models.ManyToManyField(
        "self", symmetrical=False, related_name="used_by", blank=True, editable=False
    )
    sliding = models.BooleanField(
        default=False, editable=False, help_text="Membership can change with time alone (windows)."
    )

    # Materialized membership: the current version and the last refresh.
    version = models.PositiveIntegerField(default=0, editable=False)
    member_count = models.PositiveIntegerField(default=0, editable=False)
    refresh_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_refresh_seconds = models.FloatField(null=True, blank=True, editable=False)

    # What the audience page and the API show about the last refreshes.
    STATUS_FIELDS = (
        "member_count",
        "last_refreshed_at",
        "last_refresh_seconds",
        "error_count",
        "last_error",
        "last_error_at",
    )

    class Meta:
        ordering = ["key"]
        indexes = [models.Index(fields=["state"], name="audience_state_idx")]


class AudienceMembership(models.Model):
    """A person in one version of an audience, with the time they entered (kept across versions).

    Primary key (audience, version, person): a refresh inserts a whole version at once. Its keys are
    ``bulk_row_key``s.
    """

    pk = models.CompositePrimaryKey("audience", "version", "person")
    audience = bulk_row_key(Audience, related_name="memberships")
    version = models.PositiveIntegerField()
    person = bulk_row_key(Person, related_name="audience_memberships")
    entered_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["person"], name="audience_member_person_idx")]

    def __str__(self) -> str:
        return f"{self.audience_id}v{self.version}/{self.person_id}"


class MembershipHistory(models.Model):
    """One entry into or exit from an audience (append-only, ordered by id)."""

    class Kind(models.TextChoices):
        ENTERED = "entered", "Entered"
        EXITED = "exited", "Exited"

    id = models.BigAutoField(primary_key=True)
    audience = bulk_row_key(Audience, related_name="history")
    person = bulk_row_key(Person, related_name="audience_history")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField(default=now)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["audience", "id"], name="audience_history_idx"),
            models.Index(fields=["person", "at"], name="audience_history_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.kind} {self.audience_id}"


class AudienceRefresh(models.Model):
    """One refresh run of an audience: its size and diff, or why it failed."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="refreshes")
    started_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    member_count = models.PositiveIntegerField(default=0)
    entered = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["audience", "started_at"], name="audience_refresh_idx")]

    def __str__(self) -> str:
        return f"{self.audience_id}@{self.started_at:%Y-%m-%d %H:%M}"


class RetiredAudienceKey(models.Model):
    """The key of a deleted audience: never given to another one."""

    key = models.CharField(max_length=64, unique=True)
    retired_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return self.key
