"""django-q2 entry points (take ids, safe to run twice)."""

from __future__ import annotations

import json
import logging
import urllib.request

from privacy.models import PrivacyRequest

log = logging.getLogger(__name__)
CALLBACK_TIMEOUT_SECONDS = 10


def send_status_callbacks(request_id: int, status: str | None = None) -> dict:
    """POST the request's status (as it was at the transition) to each callback URL, signed with
    the organization key."""
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
    for url in request.status_callback_urls:
        http = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - staff-given URL
        http.add_header("Content-Type", "application/json")
        if signature:
            http.add_header(signing.HEADER, signature)
        try:
            with urllib.request.urlopen(http, timeout=CALLBACK_TIMEOUT_SECONDS) as response:  # noqa: S310
                outcome[url] = response.status
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, never raised
            log.warning("privacy callback to %s failed: %s", url, exc)
            outcome[url] = type(exc).__name__
    record_callback(request=request, outcome=outcome)
    return outcome


def housekeeping() -> dict:
    """Daily: expired export results are dropped; events past the retention setting are purged."""
    from people.selectors import organization
    from privacy.services import events_purge_retention, results_purge_expired

    org = organization()
    return {
        "results_dropped": results_purge_expired(),
        "events_purged": events_purge_retention(days=getattr(org, "event_retention_days", None)),
    }
