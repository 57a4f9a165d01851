"""django-q2 entry points (take ids, safe to run twice)."""

from __future__ import annotations

import json
import logging
import urllib.request

from privacy.models import PrivacyRequest

log = logging.getLogger(__name__)
CALLBACK_TIMEOUT_SECONDS = 10
# A failed delivery is tried again after these many minutes (then given up, and audited).
CALLBACK_RETRY_MINUTES = (1, 5, 30, 120)


def send_status_callbacks(
    request_id: int, status: str | None = None, urls: list[str] | None = None, attempt: int = 1
) -> dict:
    """POST the request's status (as it was at the transition) to each callback URL, signed with
    the organization key (a fresh timestamp each attempt). URLs that fail (network error or a status
    outside 2xx) are retried later with backoff, by a one-off django-q2 schedule."""
    from people import signing
    from privacy.api.serializers import status_document
    from privacy.services import record_callback

    request = PrivacyRequest.objects.filter(pk=request_id).first()
    if request is None:
        return {}
    document = status_document(request, results_url=None)
    if status:
        document["request_status"] = status
    body = json.dumps(document, sort_keys=True).encode()
    try:
        signature = signing.signature_header(body)
    except ValueError:
        signature = ""
    outcome = {}
    for url in urls if urls is not None else request.status_callback_urls:
        http = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - staff-given URL
        http.add_header("Content-Type", "application/json")
        if signature:
            http.add_header(signing.HEADER, signature)
        try:
            with urllib.request.urlopen(http, timeout=CALLBACK_TIMEOUT_SECONDS) as response:  # noqa: S310
                outcome[url] = response.status
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, never raised
            log.warning("privacy callback to %s failed: %s", url, exc)
            outcome[url] = getattr(exc, "code", None) or type(exc).__name__
    failed = [url for url, result in outcome.items() if not (isinstance(result, int) and 200 <= result < 300)]
    retry_in = (
        CALLBACK_RETRY_MINUTES[attempt - 1] if failed and attempt <= len(CALLBACK_RETRY_MINUTES) else None
    )
    record_callback(request=request, outcome=outcome, attempt=attempt, retry_in_minutes=retry_in)
    if retry_in is not None:
        from datetime import timedelta

        from django.utils import timezone
        from django_q.models import Schedule
        from django_q.tasks import schedule

        schedule(
            "privacy.tasks.send_status_callbacks",
            request_id,
            status,
            failed,
            attempt + 1,
            schedule_type=Schedule.ONCE,
            next_run=timezone.now() + timedelta(minutes=retry_in),
            name=f"privacy callback {request.subject_request_id} {status} #{attempt + 1}",
        )
    return outcome


def housekeeping() -> dict:
    """Daily: expired export results are dropped; events past the retention setting are purged;
    import and export files older than ``ATTUNE_IMPORT_KEEP_DAYS`` are removed."""
    from identity.imports.services import import_files_purge
    from people.selectors import organization
    from privacy.services import events_purge_retention, results_purge_expired

    org = organization()
    import_files_purge()
    return {
        "results_dropped": results_purge_expired(),
        "events_purged": events_purge_retention(days=getattr(org, "event_retention_days", None)),
    }
