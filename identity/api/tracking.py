"""Segment/RudderStack tracking endpoints (``/v1/...``) and the mParticle Events API (``/v2/...``).

Vendor contracts (docs/ingestion.md): success is exactly ``200 {"success": true}`` on ``/v1``
(rejected messages listed in the body), errors are ``{"code", "message"}`` so every SDK either drops
or retries correctly; mParticle answers 202, 400 ``{"errors": [...]}``, 401/403. A bad message is
rejected alone; a 400 means the body as a whole was unusable and nothing was stored.

Requests are served by plain Django views (``tracking_endpoint``, ``mparticle_endpoint``): no DRF
request wrapping, content negotiation, authentication/permission classes or renderer per request. They
answer exactly as the DRF views did (statuses, bodies, ``Allow``, CORS, ``WWW-Authenticate``,
``Retry-After``; an unusual ``Accept`` or ``?format=`` still goes through DRF's negotiation). The DRF
classes below only declare the OpenAPI operations: each URL's view carries its declaration as
``view.cls`` (what drf-spectacular reads) and is never dispatched through DRF.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from identity import mparticle, queue
from identity.api.auth import (
    HasSource,
    KeySecretAuthentication,
    WriteKeyAuthentication,
    key_secret_source,
    write_key_source,
)
from identity.api.body import AnyContentParser, BodyError, read_body
from identity.api.ratelimit import with_retry_after
from identity.limits import check_value
from identity.normalize import Rejection, parse_time_lenient
from identity.services import ingest_batch

CORS_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count"

ErrorSerializer = inline_serializer(
    "TrackingError", {"code": serializers.CharField(), "message": serializers.CharField()}
)
SuccessSerializer = inline_serializer(
    "TrackingSuccess",
    {
        "success": serializers.BooleanField(),
        "rejected": inline_serializer(
            "TrackingRejection",
            {
                "index": serializers.IntegerField(),
                "messageId": serializers.CharField(allow_null=True),
                "code": serializers.CharField(),
                "message": serializers.CharField(),
            },
            many=True,
            required=False,
        ),
    },
)
TRACKING_RESPONSES = {
    200: SuccessSerializer,
    400: OpenApiResponse(ErrorSerializer, description="Malformed JSON, oversize body or gzip bomb."),
    401: OpenApiResponse(ErrorSerializer, description="Missing or unknown write key."),
}


def add_cors(request, response):
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Access-Control-Allow-Headers"] = CORS_HEADERS
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Max-Age"] = "900"
        response["Vary"] = "Origin"
    return response


# --- plain views: the answers DRF's APIView gave, without its dispatch ---------------------------

JSON = "application/json"
COMMON_ACCEPT = (None, "*/*", JSON)
_renderer = JSONRenderer()


def negotiate(request) -> str:
    """The response's media type, as DRF's content negotiation chose it for the one JSON renderer:
    ``?format=`` other than json is a 404 (``Http404``); ``Accept: application/json; indent=2``
    indents. An ``Accept`` that JSON does not satisfy is answered in JSON all the same, as Segment's
    API does: a client's unusual header never costs it its messages (DRF would refuse it with a 406).
    What SDKs send (no Accept, ``*/*`` or ``application/json``, no query) skips the negotiation."""
    if request.META.get("HTTP_ACCEPT") in COMMON_ACCEPT and not request.META.get("QUERY_STRING"):
        return JSON
    try:
        return DefaultContentNegotiation().select_renderer(Request(request), [_renderer])[1]
    except exceptions.NotAcceptable:
        return JSON


def render(body, status: int, media_type: str = JSON) -> HttpResponse:
    """JSON as DRF's Response wrote it with ``JSONRenderer``; no body (None) and no Content-Type."""
    content = _renderer.render(body, media_type)
    response = HttpResponse(content, status=status, content_type=JSON)
    if not content:
        del response["Content-Type"]
    return response


def drf_error(exc: Exception, media_type: str) -> HttpResponse:
    """DRF's default answer (``config.api.errors``) to an exception no API handles itself: 404
    ``{"detail": "Not found."}`` for ``Http404``, ``{"detail": ...}`` for an ``APIException``."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return render({"detail": exc.detail}, exc.status_code, media_type)


def tracking_error(exc: Exception, media_type: str) -> HttpResponse:
    """A refused tracking request: ``{"code", "message"}`` (401 with ``WWW-Authenticate``, 429 with
    ``Retry-After``)."""
    if isinstance(exc, BodyError):
        return render({"code": exc.code, "message": exc.message}, exc.status, media_type)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        if isinstance(exc, exceptions.NotAuthenticated):
            body = {"code": "unauthorized", "message": MISSING_KEY}
        else:
            body = {"code": "invalid_write_key", "message": str(exc.detail)}
        response = render(body, 401, media_type)
        response["WWW-Authenticate"] = 'Basic realm="tracking"'
        return response
    if isinstance(exc, exceptions.APIException):
        body = {"code": exc.default_code, "message": str(exc.detail)}
        return with_retry_after(render(body, exc.status_code, media_type), exc)
    return drf_error(exc, media_type)


MISSING_KEY = "A write key is required (HTTP Basic username or writeKey in the body)."
TRACKING_ERRORS = (BodyError, exceptions.APIException, Http404)


def tracking_endpoint(
    handler: Callable[..., dict], declaration: type[APIView], *, methods=("POST",), keyed: bool = True
) -> Callable:
    """A plain Django view for ``handler(request, source, **url_kwargs) -> body`` (200); ``declaration``
    declares its OpenAPI operation (drf-spectacular reads ``view.cls``).

    In DRF's order: OPTIONS is answered at once (CORS), then the media type is negotiated, the write
    key read (``keyed``: missing is 401), the method checked (405), the handler called. Every answer
    but OPTIONS says ``Allow``; every answer has the CORS headers when the request has an Origin."""
    allowed = ", ".join([*methods, "OPTIONS"])

    def view(request, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            return add_cors(request, HttpResponse(status=200))
        media_type = JSON
        try:
            media_type = negotiate(request)
            source = None
            if keyed:
                source = write_key_source(request)
                if source is None:
                    raise exceptions.NotAuthenticated()
            if request.method not in methods:
                raise exceptions.MethodNotAllowed(request.method)
            response = render(handler(request, source, **kwargs), 200, media_type)
        except TRACKING_ERRORS as exc:
            response = tracking_error(exc, media_type)
        response["Allow"] = allowed
        return add_cors(request, response)

    view.cls, view.initkwargs = declaration, {}  # drf-spectacular: the operation's declaration
    view.__name__ = view.__qualname__ = f"{handler.__name__}_view"
    return csrf_exempt(view)


def _ingest(
    request, source, messages, *, batch: dict | None = None, path_type: str | None = None, size: int = 0
):
    batch = batch or {}
    context = batch.get("context") if isinstance(batch.get("context"), dict) else None
    integrations = batch.get("integrations") if isinstance(batch.get("integrations"), dict) else None
    try:  # batch-level fields apply to every message: out of limits, the body is unusable
        if context:
            check_value(context, "The batch context")
        if integrations:
            check_value(integrations, "The batch integrations")
    except Rejection as rejection:
        raise BodyError(rejection.code, rejection.reason) from None
    kwargs = {
        "source": source,
        "messages": messages,
        "received_at": timezone.now(),
        "sent_at": parse_time_lenient(batch.get("sentAt")),
        "context": context,
        "integrations": integrations,
        "path_type": path_type,
        "body_bytes": size,
    }
    if queue.ingest_mode() == "queued":
        # Durable accept: stored in one commit, processed by a django-q2 task. Rejections found
        # later (schemas, blocked identifiers) show in the event debugger, not in this response.
        rejected = queue.accept(**kwargs)
        return {"success": True, "rejected": rejected} if rejected else {"success": True}
    return ingest_batch(**kwargs).body()


def batch(request, source) -> dict:
    payload, size = read_body(request)
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise BodyError("invalid_batch", "The body must be an object with a 'batch' array.")
    return _ingest(request, source, payload["batch"], batch=payload, size=size)


def single(message_type: str) -> Callable[..., dict]:
    """The handler of ``/v1/<message_type>`` (and its one-letter form): one message of that type."""

    def handler(request, source) -> dict:
        payload, size = read_body(request)
        if not isinstance(payload, dict):
            raise BodyError("invalid_message", "The body must be a JSON object.")
        return _ingest(request, source, [payload], batch={"sentAt": None}, path_type=message_type, size=size)

    handler.__name__ = message_type
    return handler


def metrics(request, source) -> dict:
    return {"success": True}


def project_settings(request, source, write_key: str) -> dict:
    host = request.get_host()
    return {
        "integrations": {"Segment.io": {"apiKey": write_key, "apiHost": f"{host}/v1", "protocol": "https"}},
        "metrics": {"sampleRate": 0},
    }


# Schema-only: the classes below declare the tracking operations for drf-spectacular (and
# ``actions.api.client`` declares its own on ``TrackingAPIView``). Never dispatched: the URLs route to
# the plain views at the end of the module. (Comments, not docstrings, where a docstring would be
# published as the operation's description.)


class SchemaView(APIView):
    # What the tracking and mParticle declarations share (no docstring: drf-spectacular would
    # publish it on every operation below it).
    permission_classes = [HasSource]
    parser_classes = [AnyContentParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []


def schema_post(served_by: str, **schema):
    """The ``post`` of a schema-only view: a JSON body, tagged "tracking", described by ``schema``
    (``extend_schema`` keywords); ``served_by`` (a plain view) answers the real requests."""

    @extend_schema(tags=["tracking"], request={"application/json": OpenApiTypes.OBJECT}, **schema)
    def post(self, request):  # pragma: no cover - schema declaration
        raise NotImplementedError(f"served by {served_by}")

    return post


class TrackingAPIView(SchemaView):
    """Base: write-key auth, any Content-Type, ``{"code", "message"}`` errors, CORS."""

    authentication_classes = [WriteKeyAuthentication]


class BatchView(TrackingAPIView):
    post = schema_post(
        "identity.api.tracking.tracking_endpoint",
        summary="Send a batch of messages (Segment/RudderStack /v1/batch, /v1/import, /v1/b)",
        responses=TRACKING_RESPONSES,
        examples=[
            OpenApiExample(
                "batch",
                value={
                    "batch": [{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m-1"}],
                    "sentAt": "2026-01-01T12:00:00Z",
                },
                request_only=True,
            )
        ],
    )


class SingleView(TrackingAPIView):
    post = schema_post(
        "identity.api.tracking.tracking_endpoint",
        summary="Send one message (/v1/identify, /v1/track, ... and the one-letter forms)",
        responses=TRACKING_RESPONSES,
    )


class KeylessTrackingAPIView(TrackingAPIView):
    """Base of the analytics.js endpoints that take no write key in the Authorization header."""

    authentication_classes: list = []
    permission_classes: list = []


class MetricsView(KeylessTrackingAPIView):
    """analytics.js internal metrics: accepted and discarded."""

    post = schema_post(
        "identity.api.tracking.tracking_endpoint",
        operation_id="tracking_metrics",
        summary="analytics.js metrics (accepted and discarded)",
        responses={200: SuccessSerializer},
    )


class ProjectSettingsView(KeylessTrackingAPIView):
    """analytics.js CDN settings, so the browser SDK can point at this host."""

    @extend_schema(
        operation_id="tracking_project_settings",
        summary="analytics.js settings for a write key",
        tags=["tracking"],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, write_key: str):  # pragma: no cover - schema declaration
        raise NotImplementedError("served by identity.api.tracking.tracking_endpoint")


batch_view = tracking_endpoint(batch, BatchView)
metrics_view = tracking_endpoint(metrics, MetricsView, keyed=False)
project_settings_view = tracking_endpoint(
    project_settings, ProjectSettingsView, methods=("GET", "HEAD"), keyed=False
)


def single_view(message_type: str) -> Callable:
    return tracking_endpoint(single(message_type), SingleView)


# --- mParticle --------------------------------------------------------------------------------

MPErrors = inline_serializer(
    "MParticleErrors",
    {
        "errors": inline_serializer(
            "MParticleError", {"code": serializers.CharField(), "message": serializers.CharField()}, many=True
        )
    },
)
MP_RESPONSES = {
    202: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description=(
            "Accepted. When a batch of /v2/bulkevents or an event was rejected, the body says which: "
            '{"batches": [{"index", "status": "accepted"|"rejected", "code", "message", "rejected": [...]}]} '
            '(/v2/events: {"rejected": [...]}).'
        ),
    ),
    400: MPErrors,
    401: OpenApiResponse(MPErrors, description="Authorization header missing."),
    403: OpenApiResponse(MPErrors, description="Invalid key or secret."),
}
MAX_BULK = 100


def mparticle_error(exc: Exception, media_type: str) -> HttpResponse:
    """A refused mParticle request: ``{"errors": [{"code", "message"}]}`` with mParticle's statuses."""
    if isinstance(exc, BodyError):
        return render({"errors": [{"code": "BAD_REQUEST", "message": exc.message}]}, 400, media_type)
    if isinstance(exc, Rejection):
        return render({"errors": [{"code": exc.code, "message": exc.reason}]}, 400, media_type)
    if isinstance(exc, exceptions.NotAuthenticated):
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "Authorization header missing."}]}
        response = render(body, 401, media_type)
        response["WWW-Authenticate"] = 'Basic realm="events"'
        return response
    if isinstance(exc, exceptions.PermissionDenied | exceptions.AuthenticationFailed):
        return render({"errors": [{"code": "FORBIDDEN", "message": str(exc.detail)}]}, 403, media_type)
    if isinstance(exc, exceptions.Throttled):
        body = {"errors": [{"code": "TOO_MANY_REQUESTS", "message": str(exc.detail)}]}
        return with_retry_after(render(body, 429, media_type), exc)
    return drf_error(exc, media_type)


# What DRF's OPTIONS answered (its metadata of the view) to an authenticated request.
MP_OPTIONS = {"name": "M Particle", "description": "", "renders": [JSON], "parses": ["*/*"]}
MP_ERRORS = (*TRACKING_ERRORS, Rejection)


def mparticle_endpoint(*, bulk: bool) -> Callable:
    """The plain view of ``/v2/events`` (``bulk=False``) or ``/v2/bulkevents``: in DRF's order, the
    media type is negotiated, the key and secret read (missing is 401, wrong 403), the method checked;
    OPTIONS answers DRF's metadata. Every answer says ``Allow``."""

    def view(request) -> HttpResponse:
        media_type = JSON
        try:
            media_type = negotiate(request)
            source = key_secret_source(request)
            if source is None:
                raise exceptions.NotAuthenticated()
            if request.method == "OPTIONS":
                response = render(MP_OPTIONS, 200, media_type)
            elif request.method != "POST":
                raise exceptions.MethodNotAllowed(request.method)
            else:
                response = render(*_mparticle(request, source, bulk=bulk), media_type)
        except MP_ERRORS as exc:
            response = mparticle_error(exc, media_type)
        response["Allow"] = "POST, OPTIONS"
        return response

    view.cls, view.initkwargs = MParticleView, {}  # drf-spectacular: the operation's declaration
    view.__name__ = view.__qualname__ = "mparticle_bulk_view" if bulk else "mparticle_view"
    return csrf_exempt(view)


def _mparticle(request, source, *, bulk: bool) -> tuple[dict | None, int]:
    payload, size = read_body(request)
    if bulk:
        if not isinstance(payload, list):
            raise BodyError("BAD_REQUEST", "The body must be an array of batches.")
        if len(payload) > MAX_BULK:
            raise BodyError("BAD_REQUEST", f"At most {MAX_BULK} batches per request.")
        batches = payload
    else:
        batches = [payload]
    received_at = timezone.now()
    outcomes = [_ingest_one(source, index, batch, received_at, size) for index, batch in enumerate(batches)]
    failed = [outcome for outcome in outcomes if outcome["status"] == "rejected"]
    if not bulk and failed:
        return {"errors": [{"code": failed[0]["code"], "message": failed[0]["message"]}]}, 400
    if failed and len(failed) == len(outcomes):
        errors = [{"code": o["code"], "message": f"batch {o['index']}: {o['message']}"} for o in failed]
        return {"errors": errors, "batches": outcomes}, 400
    if failed or any("rejected" in outcome for outcome in outcomes):
        return ({"batches": outcomes} if bulk else {"rejected": outcomes[0]["rejected"]}), 202
    return None, 202


def _ingest_one(source, index: int, batch, received_at, size: int) -> dict:
    """One batch, alone: rejected as a whole (not stored) or ingested (bad events quarantined)."""
    try:
        mparticle.validate_batch(batch)
        messages = mparticle.batch_to_messages(batch)
        key = mparticle.dedupe_key(batch)
    except Rejection as rejection:
        return {"index": index, "status": "rejected", "code": rejection.code, "message": rejection.reason}
    result = ingest_batch(
        source=source,
        messages=messages,
        received_at=received_at,
        body_bytes=size,
        require_user_or_anonymous_id=False,
        dedupe_keys=[key],
    )
    outcome: dict = {"index": index, "status": "accepted"}
    if result.rejected:
        outcome["rejected"] = result.rejected
    return outcome


# Schema-only: declares the mParticle operations for drf-spectacular; never dispatched.
class MParticleView(SchemaView):
    authentication_classes = [KeySecretAuthentication]

    post = schema_post(
        "identity.api.tracking.mparticle_endpoint",
        summary="mParticle Events API: one batch (/v2/events) or up to 100 (/v2/bulkevents)",
        responses=MP_RESPONSES,
    )


mparticle_view = mparticle_endpoint(bulk=False)
mparticle_bulk_view = mparticle_endpoint(bulk=True)
