"""Computed attributes: definitions with their lifecycle, and the values they compute per person.

Values are sparse: a row exists only where a person's value differs from the attribute's empty value
(0 for counts and scores, false for "exists", nothing otherwise), so activating an aggregate over a
million profiles writes only the people who have matching events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db import models
from django.utils.timezone import now

from people.models import AttributeType, Definition, Person, bulk_row_key, key_field


class ComputedAttribute(Definition):
    # Who created and activated it and how its computing went (read-only in the admin and the API).
    HISTORY_FIELDS = (
        "created_at",
        "created_by",
        "activated_at",
        "activated_by",
        "last_computed_at",
        "error_count",
        "last_error",
    )

    class Kind(models.TextChoices):
        FORMULA = "formula", "Custom formula"
        AGGREGATE = "aggregate", "Event aggregate"
        SCORE = "score", "Profile score"

    key = key_field("Unique among all attributes (standard, custom and computed).")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    definition = models.JSONField(default=dict, help_text="The formula, aggregate or scoring model.")
    output_type = models.CharField(max_length=16, choices=AttributeType.choices, editable=False)
    group = models.CharField(
        max_length=64, blank=True, help_text="A set created together, e.g. 'purchase_statistics'."
    )
    dependencies = models.ManyToManyField(
        "self", symmetrical=False, related_name="dependents", blank=True, editable=False
    )
    last_computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    out_of_range_count = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Profiles whose value was left empty because a step of the computation went out of "
        "the supported range (at the last full computation, plus refreshes since).",
    )
    out_of_range_reason = models.TextField(blank=True, editable=False)
    out_of_range_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["key"]
        indexes = [models.Index(fields=["state", "kind"], name="computed_state_kind_idx")]

    @property
    def value_column(self) -> str:
        return VALUE_COLUMNS[self.output_type]

    @property
    def empty_value(self) -> Any:
        """The value of a person without a stored row."""
        if self.kind == self.Kind.SCORE:
            return 0
        if self.kind == self.Kind.AGGREGATE:
            function = (self.definition or {}).get("function")
            if function in ("count", "count_distinct"):
                return 0
            if function == "sum":
                return 0.0
            if function == "exists":
                return False
        return None


def stored_in_range() -> models.Q:
    """Rows whose value Python can read: guards the readers against a date or date-time outside years
    1-9999 stored before computations were range-checked (PostgreSQL holds them; reading one fails)."""
    low = datetime.min.replace(tzinfo=UTC)
    high = datetime.max.replace(tzinfo=UTC)
    return (
        ~models.Q(day__gt=date.max)
        & ~models.Q(day__lt=date.min)
        & ~models.Q(moment__gt=high)
        & ~models.Q(moment__lt=low)
    )


VALUE_COLUMNS = {
    AttributeType.TEXT: "text",
    AttributeType.DECIMAL: "number",
    AttributeType.INTEGER: "number",
    AttributeType.BOOLEAN: "flag",
    AttributeType.DATE: "day",
    AttributeType.DATETIME: "moment",
}


class ComputedValue(models.Model):
    """One person's value of one computed attribute, in the column of the attribute's type.

    The primary key is (attribute, person): one index to maintain when activation writes millions of
    rows, plus one on person for a profile's values and for deletes. Its keys are ``bulk_row_key``s.
    """

    pk = models.CompositePrimaryKey("attribute", "person")
    attribute = bulk_row_key(ComputedAttribute, related_name="values")
    person = bulk_row_key(Person, related_name="computed_values")
    number = models.FloatField(null=True, blank=True)
    text = models.TextField(null=True, blank=True)
    flag = models.BooleanField(null=True, blank=True)
    day = models.DateField(null=True, blank=True)
    moment = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["person"], name="computed_value_person_idx")]

    def __str__(self) -> str:
        return f"{self.attribute_id}/{self.person_id}"
