"""django-q2 entry points of the identity app (idempotent, safe to run twice)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from identity.models import SeenMessage


def prune_seen_messages() -> int:
    """Forget messageIds older than the dedupe window (``INGEST_DEDUPE_HOURS``, default 72 h)."""
    hours = getattr(settings, "INGEST_DEDUPE_HOURS", 72)
    cutoff = timezone.now() - timedelta(hours=max(48, hours))
    deleted, _ = SeenMessage.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def process_inbound() -> int:
    """Process the batches the tracking endpoints stored in queued mode (``identity.queue``)."""
    from identity.queue import process_inbound as drain

    return drain()
