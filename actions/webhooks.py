"""Signed webhook calls and their delivery log.

Every call is a ``WebhookDelivery`` row: the exact JSON body, status, attempts, last response code,
latency and an excerpt of the response. Asynchronous deliveries run as django-q2 tasks
(``actions.tasks.deliver_webhook``): with django-q2's database queue the task row commits with the
delivery (one commit); with Redis it is queued after the commit. A failed attempt (connection
error, timeout or a status that is not 2xx) is retried with exponential backoff —
``BACKOFF_SECONDS × 2^(attempt−1)`` — until ``MAX_ATTEMPTS`` attempts, then the delivery is marked
failed. Each attempt is signed afresh (``X-Attune-Signature: t=<now>,v1=...``, see people.signing),
so a receiver can reject old timestamps (replays).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from actions.models import Hook, WebhookDelivery
from people import signing

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 30
TIMEOUT_SECONDS = 10
SYNC_TIMEOUT_SECONDS = 5
EXCERPT_CHARS = 2000
USER_AGENT = "Attune Webhook Client"


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based): 30 s, 1 min, 2 min, 4 min, 8 min."""
    base = getattr(settings, "ATTUNE_WEBHOOK_BACKOFF_SECONDS", BACKOFF_SECONDS)
    return timedelta(seconds=base * 2 ** (attempt - 1))


def dumps(body: dict) -> str:
    return json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def action_body(
    *,
    event: str,
    action_id: int,
    identifiers: dict[str, str],
    channel: str,
    user_properties: dict,
    custom_properties: dict,
    at: datetime,
) -> str:
    return dumps(
        {
            "event": event,
            "actionId": action_id,
            "userId": identifiers.get("user_id"),
            "anonymousId": identifiers.get("anonymous_id"),
            "channel": channel,
            "userProperties": user_properties,
            "customProperties": custom_properties,
            "timestamp": at.isoformat(),
        }
    )


def enqueue(
    *,
    hook: Hook | None,
    action_id: int | None,
    person,
    event: str,
    url: str,
    body: str,
    audience_webhook=None,
) -> WebhookDelivery:
    """Log a delivery and send it from a django-q2 task after the commit."""
    delivery = WebhookDelivery.objects.create(
        hook=hook,
        audience_webhook=audience_webhook,
        action_id=action_id,
        person=person,
        event=event,
        url=url,
        body=body,
        next_attempt_at=timezone.now(),
    )
    if _queue_in_this_database():
        # The task's row commits with the delivery's (and the act's): no second commit per act.
        _async(delivery.pk)
    else:
        # After commit (a worker must find the row). Robust: if queueing fails, the act still
        # answers; the minute sweeper sends the pending delivery.
        transaction.on_commit(lambda: _async(delivery.pk), robust=True)
    return delivery


def _queue_in_this_database() -> bool:
    """Whether django-q2's queue is a table of the database being written (its ORM broker on the
    default database, not run synchronously), inside a transaction."""
    from django_q.conf import Conf

    return Conf.ORM == DEFAULT_DB_ALIAS and not Conf.SYNC and transaction.get_connection().in_atomic_block


def _async(delivery_id: int) -> None:
    from django_q.tasks import async_task

    async_task("actions.tasks.deliver_webhook", delivery_id, task_name=f"webhook {delivery_id}")


def post(url: str, body: str, *, timeout: float) -> tuple[int | None, str, int, str]:
    """One signed POST: (status or None, response excerpt, latency ms, error)."""
    raw = body.encode()
    request = urllib.request.Request(
        url,
        data=raw,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.HEADER: signing.signature_header(raw),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            text = response.read(EXCERPT_CHARS * 2).decode("utf-8", "replace")
            return response.status, text[:EXCERPT_CHARS], _ms(started), ""
    except urllib.error.HTTPError as exc:
        text = exc.read(EXCERPT_CHARS * 2).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, text[:EXCERPT_CHARS], _ms(started), ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "", _ms(started), f"{type(exc).__name__}: {reason}"[:500]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def attempt(delivery_id: int, *, now: datetime | None = None) -> WebhookDelivery | None:
    """One attempt of a pending or retrying delivery (idempotent: a finished one is left alone)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                pk=delivery_id, status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]
            )
            .first()
        )
        if delivery is None:
            return None
        try:
            status, excerpt, latency, error = post(delivery.url, delivery.body, timeout=TIMEOUT_SECONDS)
        except ValueError as exc:  # no signing key
            status, excerpt, latency, error = None, "", 0, str(exc)
        now = now or timezone.now()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_code = status
        delivery.response_excerpt = excerpt
        delivery.latency_ms = latency
        delivery.error = error
        if status is not None and 200 <= status < 300:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.status = WebhookDelivery.Status.RETRYING
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.save()
    if delivery.status == WebhookDelivery.Status.RETRYING:
        _schedule_retry(delivery)
    return delivery


def _schedule_retry(delivery: WebhookDelivery) -> None:
    """A one-off django-q2 schedule at the retry time (the minute sweeper catches any it misses)."""
    from django_q.models import Schedule

    Schedule.objects.create(
        func="actions.tasks.deliver_webhook",
        args=str(delivery.pk),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=delivery.next_attempt_at,
        name=f"webhook {delivery.pk} attempt {delivery.attempts + 1}",
    )


def call_now(*, hook: Hook, person, body: str) -> dict[str, Any]:
    """A synchronous call (accept hooks): one attempt, logged; the answer for the client."""
    try:
        status, excerpt, latency, error = post(hook.url, body, timeout=SYNC_TIMEOUT_SECONDS)
    except ValueError as exc:
        status, excerpt, latency, error = None, "", 0, str(exc)
    ok = status is not None and status < 300
    WebhookDelivery.objects.create(
        hook=hook,
        action_id=hook.action_id,
        person=person,
        event="accepted",
        url=hook.url,
        body=body,
        synchronous=True,
        status=WebhookDelivery.Status.SUCCEEDED if ok else WebhookDelivery.Status.FAILED,
        attempts=1,
        response_code=status,
        latency_ms=latency,
        response_excerpt=excerpt,
        error=error,
        last_attempt_at=timezone.now(),
    )
    try:
        parsed: Any = json.loads(excerpt) if excerpt else None
    except ValueError:
        parsed = excerpt
    return {"statusCode": status, "body": parsed, "error": error}
