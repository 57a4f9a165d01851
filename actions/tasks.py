"""django-q2 entry points of the actions app (they take ids and are safe to run twice)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from actions import webhooks
from actions.models import WebhookDelivery


def deliver_webhook(delivery_id: int) -> str:
    """One attempt of a logged webhook delivery; a failure schedules the next attempt."""
    delivery = webhooks.attempt(int(delivery_id))
    return "skipped (already finished)" if delivery is None else delivery.status


def deliver_due_webhooks(now: datetime | None = None) -> int:
    """Attempt every delivery whose retry time has come (run each minute by a schedule)."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    for delivery_id in due:
        webhooks.attempt(delivery_id, now=now)
    return len(due)


def audience_membership_changed(*, audience_id: int, first_history_id: int, last_history_id: int) -> int:
    """Audiences announce entries and exits here (``ATTUNE_MEMBERSHIP_CHANGED_TASKS``): queue the
    signed webhook deliveries of the matching audience webhooks. Returns the deliveries queued."""
    from actions import services

    return len(
        services.audience_webhooks_queue(
            audience_id=audience_id, first_history_id=first_history_id, last_history_id=last_history_id
        )
    )
