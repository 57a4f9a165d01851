"""Actions: targeted, capped content served to client apps, their reactions and webhook deliveries.

Writes go through ``actions.services``; reads through ``actions.selectors``; the evaluation of one
action for one person lives in ``actions.targeting``. Models hold data and small invariants only.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.timezone import now

type_validator = RegexValidator(
    r"^[a-z][a-zA-Z0-9]*$", "Use camelCase: a lower-case letter first, then letters and digits."
)
name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*$", "Use letters, digits and underscores, not starting with a digit."
)


class ReactionKind(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    SHOWN = "shown", "Shown"
    HIDDEN = "hidden", "Hidden"
    DECLINED = "declined", "Declined"
    ACCEPTED = "accepted", "Accepted"


# The client's act event → the reaction it records.
ACT_EVENTS = {
    "show": ReactionKind.SHOWN,
    "hide": ReactionKind.HIDDEN,
    "decline": ReactionKind.DECLINED,
    "accept": ReactionKind.ACCEPTED,
}


class Action(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        STAGING = "staging", "Staging (test users only)"

    name = models.CharField(max_length=200)
    type = models.CharField(
        max_length=64,
        validators=[type_validator],
        help_text="camelCase; clients ask for actions of a type (e.g. newsletterBanner).",
    )
    tags = models.JSONField(default=list, blank=True, help_text="Clients may ask for actions by tag.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.INACTIVE)
    # Targeting (evaluated in the order of actions.targeting.STEPS).
    channels = models.JSONField(default=list, blank=True, help_text="Channel keys the action is served on.")
    start_date = models.DateField(null=True, blank=True)
    start_time = models.TimeField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True, help_text="Inclusive (the whole day).")
    end_time = models.TimeField(null=True, blank=True)
    trait_conditions = models.JSONField(
        null=True, blank=True, help_text="A condition tree on the person (docs/conditions.md)."
    )
    context_conditions = models.JSONField(
        default=list, blank=True, help_text="Conditions on the request's context, per channel."
    )
    audience_ids = models.JSONField(default=list, blank=True, help_text="Member of any of these audiences.")
    # Adaptive allocation: actions sharing a slot compete (Thompson sampling on accepted/delivered).
    slot = models.CharField(max_length=64, blank=True, help_text="Actions with the same slot compete.")
    allocation = models.BooleanField(
        default=False, help_text="Pick one action of the slot per request by Thompson sampling."
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["state", "type"], name="action_state_type")]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"

    def clean(self) -> None:
        from actions import validation as v

        self.tags = v.clean_keys(self.tags, field="tags", what="tags")
        self.channels = v.clean_keys(self.channels, field="channels", what="channels", known=v.channel_keys())
        self.trait_conditions = v.clean_trait_conditions(self.trait_conditions)
        self.context_conditions = v.clean_context_conditions(self.context_conditions)
        self.audience_ids = v.clean_audience_ids(self.audience_ids)
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date is before the start date."})
        if self.allocation and not self.slot:
            raise ValidationError({"slot": "Adaptive allocation needs a slot (actions of one slot compete)."})


class ActionProperty(models.Model):
    """One property returned to clients; a channel-specific row overrides the all-channels row."""

    class Kind(models.TextChoices):
        TEXT = "text", "Literal text"
        TRAIT = "trait", "Attribute value"
        TEMPLATE = "template", "Text template"

    class ValueType(models.TextChoices):
        STRING = "string", "Text"
        INTEGER = "integer", "Whole number"
        FLOAT = "float", "Decimal number"
        BOOLEAN = "boolean", "True/false"
        RAW = "raw", "As stored (lists, objects)"

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="properties")
    channel = models.CharField(max_length=64, blank=True, help_text="Channel key; empty = every channel.")
    name = models.CharField(max_length=64, validators=[name_validator])
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    value = models.TextField(blank=True, help_text="The text, or the template (Hi {{first_name|there}}).")
    attribute = models.CharField(max_length=64, blank=True, help_text="Attribute key, for attribute values.")
    value_type = models.CharField(max_length=16, choices=ValueType.choices, default=ValueType.STRING)
    fallback = models.TextField(blank=True, help_text="Used when the attribute is empty.")

    class Meta:
        verbose_name_plural = "properties"
        constraints = [
            models.UniqueConstraint(fields=["action", "channel", "name"], name="uniq_action_property")
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.channel or '*'}"

    def clean(self) -> None:
        from actions import validation as v

        v.clean_channel(self.channel)
        v.clean_property(
            kind=self.kind,
            value=self.value,
            attribute=self.attribute,
            fallback=self.fallback,
            value_type=self.value_type,
        )


class CappingRule(models.Model):
    class Group(models.TextChoices):
        USER = "user", "Per person"
        ALL = "all", "All people together"

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="capping_rules")
    channels = models.JSONField(default=list, blank=True, help_text="Channel keys; empty = every channel.")
    reaction = models.CharField(max_length=16, choices=ReactionKind.choices)
    group = models.CharField(max_length=8, choices=Group.choices, default=Group.USER)
    count = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    within_days = models.PositiveIntegerField(default=0, help_text="0 = ever.")

    def __str__(self) -> str:
        scope = "per person" if self.group == self.Group.USER else "for everyone"
        window = f"within {self.within_days} days" if self.within_days else "ever"
        return f"at most {self.count} {self.reaction} {scope} {window}"

    def clean(self) -> None:
        from actions import validation as v

        self.channels = v.clean_keys(self.channels, field="channels", what="channels", known=v.channel_keys())


class Hook(models.Model):
    class Kind(models.TextChoices):
        TRACK_EVENT = "track_event", "Store an event"
        WEBHOOK = "webhook", "Call a webhook"

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="hooks")
    reaction = models.CharField(max_length=16, choices=ReactionKind.choices)
    channel = models.CharField(max_length=64, blank=True, help_text="Channel key; empty = every channel.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    event_name = models.CharField(max_length=200, blank=True, help_text="For 'store an event'.")
    url = models.URLField(max_length=500, blank=True, help_text="For 'call a webhook'.")
    extra = models.JSONField(default=dict, blank=True, help_text="Sent as customProperties.")
    synchronous = models.BooleanField(
        default=False,
        help_text="Accept only: call the webhook during the act and answer with its status and body; "
        "a status of 300 or more fails the act.",
    )

    def __str__(self) -> str:
        target = self.event_name if self.kind == self.Kind.TRACK_EVENT else self.url
        return f"on {self.reaction}@{self.channel or '*'}: {self.get_kind_display()} {target}"

    def clean(self) -> None:
        from actions import validation as v

        v.clean_channel(self.channel)
        if self.kind == self.Kind.TRACK_EVENT and not self.event_name.strip():
            raise ValidationError({"event_name": "Name the event to store."})
        if self.kind == self.Kind.WEBHOOK and not self.url:
            raise ValidationError({"url": "Give the webhook's URL."})
        if not isinstance(self.extra, dict):
            raise ValidationError({"extra": "Expected a JSON object."})
        if self.synchronous and (self.kind != self.Kind.WEBHOOK or self.reaction != ReactionKind.ACCEPTED):
            raise ValidationError({"synchronous": "Only a webhook on 'accepted' can be synchronous."})


class TestUser(models.Model):
    __test__ = False  # not a pytest test class

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="test_users")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=64, blank=True, help_text="Channel key; empty = every channel.")
    skip_targeting = models.BooleanField(default=False, help_text="Gets the action regardless of targeting.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "person", "channel"], name="uniq_action_test_user")
        ]

    def __str__(self) -> str:
        return f"test user {self.person_id}"

    def clean(self) -> None:
        from actions import validation as v

        v.clean_channel(self.channel)


class Reaction(models.Model):
    """A person's reaction to an action on a channel (``delivered`` is logged by the server)."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="reactions")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=ReactionKind.choices)
    created_at = models.DateTimeField(default=now)
    context = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "action", "kind", "created_at"], name="reaction_person_action"),
            models.Index(fields=["action", "kind", "created_at"], name="reaction_action_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.action_id} by {self.person_id}"


class WebhookDelivery(models.Model):
    """One webhook call (its attempts, last response) — the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (gave up)"

    hook = models.ForeignKey(
        Hook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    audience_webhook = models.ForeignKey(
        "AudienceWebhook", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    action = models.ForeignKey(
        Action, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event = models.CharField(max_length=64)
    url = models.URLField(max_length=500)
    body = models.TextField(help_text="The exact JSON body sent (signed with a fresh timestamp per attempt).")
    synchronous = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["action", "created_at"], name="delivery_action"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url} ({self.status})"


class AudienceWebhook(models.Model):
    """Calls a URL when people enter or exit an audience (batches of changes, signed like action hooks)."""

    name = models.CharField(max_length=200)
    audience = models.ForeignKey(
        "audiences.Audience",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty = every audience.",
    )
    on_entered = models.BooleanField(default=True)
    on_exited = models.BooleanField(default=True)
    url = models.URLField(max_length=500)
    extra = models.JSONField(default=dict, blank=True, help_text="Sent as customProperties.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not (self.on_entered or self.on_exited):
            raise ValidationError("Choose entered, exited or both.")
        if not isinstance(self.extra, dict):
            raise ValidationError({"extra": "Expected a JSON object."})
