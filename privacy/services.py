"""Every write of the privacy app: requests and their processing, suppressions, tombstones, retention.

A request is created *pending* and processed by the ``privacy.process_request`` job (people's job
runner on django-q2): pending → in_progress → completed | failed; a pending request may be cancelled.
Each transition writes an ``AuditEntry`` (identifiers only as salted hashes) and, after commit, posts
the signed status callbacks.
"""

from __future__ import annotations

import json
import uuid as uuid_lib
from collections import Counter
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from identity.models import SuppressedIdentifier
from people import signing
from people.jobs import Progress
from people.models import Event, Person
from people.services import job_start
from privacy import erasure, hashing
from privacy.erasure import ErasureContext, erase_people, estimate
from privacy.export import build_export
from privacy.models import AuditEntry, PrivacyRequest, RequestKind, RequestStatus, Suppression, Tombstone
from privacy.selectors import SubjectError, normalize_identities, resolve_subject

RESULTS_VALID_FOR = timedelta(days=7)
EXPECTED_COMPLETION = timedelta(days=1)
ERASURE_PERMISSION = "privacy.run_erasure"
MAX_RESURRECTION_SWEEPS = 3


def _actor_label(user) -> str:
    return getattr(user, "username", "") or "system"


def _hashes(identities: list[dict] | list[tuple[str, str]]) -> list[str]:
    pairs = [(i["type"], i["value"]) if isinstance(i, dict) else i for i in identities]
    return sorted(hashing.digest(t, v) for t, v in pairs)


def _audit(
    request: PrivacyRequest, action: str, *, actor: str = "system", detail: dict | None = None
) -> None:
    AuditEntry.objects.create(
        request_uuid=request.subject_request_id,
        kind=request.kind,
        action=action,
        actor=actor,
        subject_hashes=request.subject_hashes,
        detail=detail or {},
    )


def _callbacks_after_commit(request: PrivacyRequest) -> None:
    if not request.status_callback_urls:
        return
    from django_q.tasks import async_task

    pk, status = request.pk, request.status
    transaction.on_commit(lambda: async_task("privacy.tasks.send_status_callbacks", pk, status))


def can_request(user, kind: str) -> bool:
    if kind == RequestKind.ERASURE:
        return bool(user and user.has_perm(ERASURE_PERMISSION))
    return bool(user and user.has_perm("privacy.add_privacyrequest"))


@transaction.atomic
def request_create(
    *,
    kind: str,
    identities: list[dict],
    requested_by=None,
    regulation: str = PrivacyRequest.Regulation.GDPR,
    subject_request_id: uuid_lib.UUID | None = None,
    submitted_time: datetime | None = None,
    status_callback_urls: list[str] | None = None,
    via: str = "admin",
) -> PrivacyRequest:
    """Record a request (pending) and start its job after commit.

    Raises ``PermissionDenied`` when ``requested_by`` may not run this kind (erasure needs its own
    permission) and ``ValidationError`` for bad input, with nothing written.
    """
    if kind not in RequestKind.values:
        raise ValidationError({"subject_request_type": f"Unknown request type {kind!r}."})
    if regulation not in PrivacyRequest.Regulation.values:
        raise ValidationError({"regulation": f"Unknown regulation {regulation!r}; use gdpr or ccpa."})
    if requested_by is not None and not can_request(requested_by, kind):
        raise PermissionDenied(f"You may not create {kind} requests.")
    try:
        normalized = normalize_identities(identities)
    except SubjectError as exc:
        raise ValidationError({"subject_identities": str(exc)}) from None
    if subject_request_id and PrivacyRequest.objects.filter(subject_request_id=subject_request_id).exists():
        raise ValidationError({"subject_request_id": "A request with this id exists already."})
    request = PrivacyRequest.objects.create(
        subject_request_id=subject_request_id or uuid_lib.uuid4(),
        regulation=regulation,
        kind=kind,
        subject_identities=normalized,
        subject_hashes=_hashes(normalized),
        submitted_time=submitted_time or timezone.now(),
        status_callback_urls=list(status_callback_urls or []),
        requested_by=requested_by,
        requested_via=via,
    )
    _audit(request, "received", actor=_actor_label(requested_by), detail={"via": via})
    job = job_start(
        kind="privacy.process_request", params={"request_id": request.pk}, created_by=requested_by
    )
    PrivacyRequest.objects.filter(pk=request.pk).update(job=job)
    request.job = job
    _callbacks_after_commit(request)
    return request


@transaction.atomic
def request_cancel(*, request: PrivacyRequest, actor=None) -> PrivacyRequest:
    """Cancel a pending request; any other status is a ``ValidationError`` naming it."""
    cancelled = PrivacyRequest.objects.filter(pk=request.pk, status=RequestStatus.PENDING).update(
        status=RequestStatus.CANCELLED, completed_at=timezone.now()
    )
    request.refresh_from_db()
    if not cancelled:
        raise ValidationError(
            f"Only pending requests can be cancelled; this one is {request.get_status_display().lower()}."
        )
    _audit(request, "cancelled", actor=_actor_label(actor))
    _callbacks_after_commit(request)
    return request


def expected_completion_time(request: PrivacyRequest) -> datetime:
    return request.received_at + EXPECTED_COMPLETION


# --- processing (the job) -------------------------------------------------------------------------


class _RequestProgress:
    """Mirrors progress on the request and its job with single-row UPDATEs."""

    def __init__(self, request: PrivacyRequest, job_progress: Progress | None):
        self.request = request
        self.job_progress = job_progress

    def set_total(self, total: int) -> None:
        PrivacyRequest.objects.filter(pk=self.request.pk).update(progress_total=total)
        if self.job_progress:
            self.job_progress.set_total(total)

    def advance(self, n: int) -> None:
        PrivacyRequest.objects.filter(pk=self.request.pk).update(progress_done=F("progress_done") + n)
        if self.job_progress:
            self.job_progress.advance(n)


def request_process(*, request_id: int, job_progress: Progress | None = None) -> dict:
    """Run a pending request. Safe to call twice: only a pending request is claimed."""
    claimed = PrivacyRequest.objects.filter(pk=request_id, status=RequestStatus.PENDING).update(
        status=RequestStatus.IN_PROGRESS, started_at=timezone.now()
    )
    request = PrivacyRequest.objects.get(pk=request_id)
    if not claimed:
        return {"skipped": request.status}
    with transaction.atomic():
        _audit(request, "started")
        _callbacks_after_commit(request)
    progress = _RequestProgress(request, job_progress)
    handlers = {
        RequestKind.ACCESS: _process_export,
        RequestKind.PORTABILITY: _process_export,
        RequestKind.ERASURE: _process_erasure,
        RequestKind.SUPPRESSION: _process_suppression,
        RequestKind.UNSUPPRESSION: _process_unsuppression,
    }
    try:
        detail = handlers[request.kind](request, progress)
    except Exception as exc:
        with transaction.atomic():
            PrivacyRequest.objects.filter(pk=request.pk).update(
                status=RequestStatus.FAILED, completed_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"
            )
            request.refresh_from_db()
            _audit(request, "failed", detail={"error": type(exc).__name__})
            _callbacks_after_commit(request)
        raise
    with transaction.atomic():
        PrivacyRequest.objects.filter(pk=request.pk).update(
            status=RequestStatus.COMPLETED, completed_at=timezone.now()
        )
        request.refresh_from_db()
        _audit(request, "completed", detail=detail)
        _callbacks_after_commit(request)
    return detail


def _pairs(request: PrivacyRequest) -> list[tuple[str, str]]:
    return [(i["type"], i["value"]) for i in request.subject_identities]


def _request_summary(request: PrivacyRequest) -> dict:
    return {
        "subject_request_id": str(request.subject_request_id),
        "type": request.kind,
        "status": request.status,
        "received_at": request.received_at.isoformat(),
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
    }


def _process_export(request: PrivacyRequest, progress: _RequestProgress) -> dict:
    subject = resolve_subject(request.subject_identities)
    progress.set_total(1)
    root = Person.objects.filter(pk=subject.root_id).first() if subject.root_id else None
    earlier = PrivacyRequest.objects.filter(person_id__in=subject.person_ids).exclude(pk=request.pk)
    document = build_export(
        root=root,
        person_ids=subject.person_ids,
        requests=[_request_summary(r) for r in earlier.order_by("received_at")],
    )
    document["subject_request_id"] = str(request.subject_request_id)
    PrivacyRequest.objects.filter(pk=request.pk).update(
        person_id=subject.root_id,
        result=json.loads(json.dumps(document, default=str)),
        results_expire_at=timezone.now() + RESULTS_VALID_FOR,
    )
    progress.advance(1)
    return {"profiles": len(subject.person_ids), "tables": len(document["tables"])}


def _tombstone(request: PrivacyRequest, idents: list[tuple[str, str]]) -> int:
    rows = [
        Tombstone(digest=hashing.digest(t, v), identifier_type=t, request=request)
        for t, v in sorted(set(idents))
    ]
    with transaction.atomic():
        Tombstone.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def _process_erasure(request: PrivacyRequest, progress: _RequestProgress) -> dict:
    subject = resolve_subject(request.subject_identities)
    # Tombstones first (committed), so ingestion drops the person's messages from now on.
    _tombstone(request, subject.identities)
    PrivacyRequest.objects.filter(pk=request.pk).update(person_id=subject.root_id)
    progress.set_total(estimate(subject.person_ids))
    ctx = ErasureContext(
        person_ids=subject.person_ids, idents=subject.identities, on_progress=progress.advance
    )
    counts: Counter = Counter()
    if subject.person_ids:
        counts += erase_people(ctx)
    # An ingestion batch that passed the filters before the tombstones were committed may still
    # have written a profile for these identifiers: erase it too.
    for _ in range(MAX_RESURRECTION_SWEEPS):
        again = resolve_subject([{"type": t, "value": v} for t, v in subject.identities])
        if not again.person_ids:
            break
        _tombstone(request, again.identities)
        sweep = ErasureContext(
            person_ids=again.person_ids, idents=again.identities, on_progress=progress.advance
        )
        counts += erase_people(sweep)
    # Rows that keep no personal data afterwards: the requests naming this subject.
    counts["privacy.PrivacyRequest"] += _scrub_requests(request, subject.identities, subject.person_ids)
    receipt = {
        "subject_request_id": str(request.subject_request_id),
        "request_type": request.kind,
        "regulation": request.regulation,
        "received_at": request.received_at.isoformat(),
        "completed_at": timezone.now().isoformat(),
        "profiles_erased": counts.get("people.Person", 0),
        "tombstones": Tombstone.objects.filter(request=request).count(),
        "counts": dict(sorted((k, v) for k, v in counts.items() if v)),
    }
    PrivacyRequest.objects.filter(pk=request.pk).update(
        receipt=receipt, receipt_signature=sign_receipt(receipt), subject_identities=[], person_id=None
    )
    return {"counts": receipt["counts"], "tombstones": receipt["tombstones"]}


def receipt_bytes(receipt: dict) -> bytes:
    """The canonical form that is signed: sorted keys, no spaces."""
    return json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()


def sign_receipt(receipt: dict) -> str:
    try:
        return signing.signature_header(receipt_bytes(receipt))
    except ValueError:  # no signing key configured: kept unsigned, the admin says so
        return ""


def _scrub_requests(
    request: PrivacyRequest, subject_identities: list[tuple[str, str]], person_ids: list[int]
) -> int:
    """Earlier requests of the erased people, or naming one of their identifiers (found by hash),
    lose their identifiers and export results; their rows stay as the record of what was asked."""
    from django.db.models import Q

    hashes = set(_hashes(subject_identities)) | set(request.subject_hashes)
    by_hash = [
        pk
        for pk, row_hashes in PrivacyRequest.objects.exclude(pk=request.pk).values_list(
            "pk", "subject_hashes"
        )
        if hashes & set(row_hashes or [])
    ]
    return (
        PrivacyRequest.objects.filter(Q(person_id__in=person_ids) | Q(pk__in=by_hash))
        .exclude(pk=request.pk)
        .update(subject_identities=[], result=None, person_id=None)
    )


def _process_suppression(request: PrivacyRequest, progress: _RequestProgress) -> dict:
    subject = resolve_subject(request.subject_identities)
    progress.set_total(1)
    with transaction.atomic():
        if subject.root_id:
            Suppression.objects.get_or_create(
                person_id=subject.root_id, defaults={"request": request, "created_by": request.requested_by}
            )
            PrivacyRequest.objects.filter(pk=request.pk).update(person_id=subject.root_id)
            detail = {"profiles": len(subject.person_ids), "identities": len(subject.identities)}
        else:
            # Nobody has these identifiers yet: suppress them one by one (identity's list).
            from identity.services import identifier_suppress

            for type_key, value in _pairs(request):
                identifier_suppress(
                    type_key=type_key, value=value, reason=f"privacy {request.subject_request_id}"
                )
            detail = {"profiles": 0, "identifiers": len(request.subject_identities)}
    progress.advance(1)
    return detail


def _process_unsuppression(request: PrivacyRequest, progress: _RequestProgress) -> dict:
    """Lifts suppression of the profile and the tombstones and suppressed identifiers of the given
    identifiers. Restores nothing."""
    subject = resolve_subject(request.subject_identities)
    pairs = _pairs(request)
    progress.set_total(1)
    with transaction.atomic():
        suppressions = Suppression.objects.filter(person_id__in=subject.person_ids).delete()[0]
        tombstones = Tombstone.objects.filter(digest__in=_hashes(pairs)).delete()[0]
        identifiers = 0
        for type_key, value in pairs:
            identifiers += SuppressedIdentifier.objects.filter(type__key=type_key, value=value).delete()[0]
    progress.advance(1)
    return {"suppressions": suppressions, "tombstones": tombstones, "identifiers": identifiers}


# --- housekeeping -----------------------------------------------------------------------------------


@transaction.atomic
def results_purge_expired(*, now: datetime | None = None) -> int:
    """Drop export results past their 7 days (results_url answers 410 from then on)."""
    return PrivacyRequest.objects.filter(
        results_expire_at__lt=now or timezone.now(), result__isnull=False
    ).update(result=None)


def events_purge_retention(*, days: int | None, now: datetime | None = None) -> int:
    """Delete events older than ``days`` days in primary-key batches (short transactions)."""
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Event.objects.filter(timestamp__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[: erasure.BATCH]
            )
            if not ids:
                break
            total += Event.objects.filter(pk__in=ids)._raw_delete(Event.objects.db)
        if len(ids) < erasure.BATCH:
            break
    return total


@transaction.atomic
def record_callback(
    *, request: PrivacyRequest, outcome: dict, attempt: int = 1, retry_in_minutes: int | None = None
) -> None:
    """Audit the callback deliveries (status codes only, no URLs)."""
    _audit(
        request,
        "callback",
        detail={
            "status": request.status,
            "responses": list(outcome.values()),
            "attempt": attempt,
            "retry_in_minutes": retry_in_minutes,
        },
    )
