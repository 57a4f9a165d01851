"""Segment/RudderStack tracking endpoints (``/v1/...``) and the mParticle Events API (``/v2/...``).

Vendor contracts (docs/ingestion.md): success is exactly ``200 {"success": true}`` on ``/v1``
(rejected messages listed in the body), errors are ``{"code", "message"}`` so every SDK either drops
or retries correctly; mParticle answers 202, 400 ``{"errors": [...]}``, 401/403. A bad message is
rejected alone; a 400 means the body as a whole was unusable and nothing was stored.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from identity import mparticle, queue
from identity.api.auth import HasSource, KeySecretAuthentication, WriteKeyAuthentication
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


class TrackingAPIView(APIView):
    """Base: write-key auth, any Content-Type, ``{"code", "message"}`` errors, CORS."""

    authentication_classes = [WriteKeyAuthentication]
    permission_classes = [HasSource]
    parser_classes = [AnyContentParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    def dispatch(self, request, *args, **kwargs):
        if request.method == "OPTIONS":
            return add_cors(request, HttpResponse(status=200))
        return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        if isinstance(exc, BodyError):
            return Response({"code": exc.code, "message": exc.message}, status=exc.status)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            code = "unauthorized" if isinstance(exc, exceptions.NotAuthenticated) else "invalid_write_key"
            message = "A write key is required (HTTP Basic username or writeKey in the body)."
            if code == "invalid_write_key":
                message = str(exc.detail)
            response = Response({"code": code, "message": message}, status=401)
            response["WWW-Authenticate"] = 'Basic realm="tracking"'
            return response
        if isinstance(exc, exceptions.APIException):
            response = Response(
                {"code": exc.default_code, "message": str(exc.detail)}, status=exc.status_code
            )
            return with_retry_after(response, exc)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return add_cors(request, response)


def _ingest(request, messages, *, batch: dict | None = None, path_type: str | None = None, size: int = 0):
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
        "source": request.auth,
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
        return Response({"success": True, "rejected": rejected} if rejected else {"success": True})
    result = ingest_batch(**kwargs)
    return Response(result.body(), status=200)


class BatchView(TrackingAPIView):
    @extend_schema(
        summary="Send a batch of messages (Segment/RudderStack /v1/batch, /v1/import, /v1/b)",
        tags=["tracking"],
        request={"application/json": OpenApiTypes.OBJECT},
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
    def post(self, request):
        payload, size = read_body(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
            raise BodyError("invalid_batch", "The body must be an object with a 'batch' array.")
        return _ingest(request, payload["batch"], batch=payload, size=size)


class SingleView(TrackingAPIView):
    message_type: str = ""

    @extend_schema(
        summary="Send one message (/v1/identify, /v1/track, ... and the one-letter forms)",
        tags=["tracking"],
        request={"application/json": OpenApiTypes.OBJECT},
        responses=TRACKING_RESPONSES,
    )
    def post(self, request):
        payload, size = read_body(request)
        if not isinstance(payload, dict):
            raise BodyError("invalid_message", "The body must be a JSON object.")
        return _ingest(request, [payload], batch={"sentAt": None}, path_type=self.message_type, size=size)


class MetricsView(TrackingAPIView):
    """analytics.js internal metrics: accepted and discarded."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="tracking_metrics",
        summary="analytics.js metrics (accepted and discarded)",
        tags=["tracking"],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: SuccessSerializer},
    )
    def post(self, request):
        return Response({"success": True})


class ProjectSettingsView(TrackingAPIView):
    """analytics.js CDN settings, so the browser SDK can point at this host."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="tracking_project_settings",
        summary="analytics.js settings for a write key",
        tags=["tracking"],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, write_key: str):
        host = request.get_host()
        return Response(
            {
                "integrations": {
                    "Segment.io": {"apiKey": write_key, "apiHost": f"{host}/v1", "protocol": "https"}
                },
                "metrics": {"sampleRate": 0},
            }
        )


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


class MParticleView(APIView):
    authentication_classes = [KeySecretAuthentication]
    permission_classes = [HasSource]
    parser_classes = [AnyContentParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []
    bulk = False

    def handle_exception(self, exc):
        if isinstance(exc, BodyError):
            return Response({"errors": [{"code": "BAD_REQUEST", "message": exc.message}]}, status=400)
        if isinstance(exc, Rejection):
            return Response({"errors": [{"code": exc.code, "message": exc.reason}]}, status=400)
        if isinstance(exc, exceptions.NotAuthenticated):
            response = Response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "Authorization header missing."}]}, status=401
            )
            response["WWW-Authenticate"] = 'Basic realm="events"'
            return response
        if isinstance(exc, (exceptions.PermissionDenied, exceptions.AuthenticationFailed)):
            return Response({"errors": [{"code": "FORBIDDEN", "message": str(exc.detail)}]}, status=403)
        if isinstance(exc, exceptions.Throttled):
            body = {"errors": [{"code": "TOO_MANY_REQUESTS", "message": str(exc.detail)}]}
            return with_retry_after(Response(body, status=429), exc)
        return super().handle_exception(exc)

    @extend_schema(
        summary="mParticle Events API: one batch (/v2/events) or up to 100 (/v2/bulkevents)",
        tags=["tracking"],
        request={"application/json": OpenApiTypes.OBJECT},
        responses=MP_RESPONSES,
    )
    def post(self, request):
        payload, size = read_body(request)
        if self.bulk:
            if not isinstance(payload, list):
                raise BodyError("BAD_REQUEST", "The body must be an array of batches.")
            if len(payload) > MAX_BULK:
                raise BodyError("BAD_REQUEST", f"At most {MAX_BULK} batches per request.")
            batches = payload
        else:
            batches = [payload]
        received_at = timezone.now()
        outcomes = [
            self._ingest_one(request, index, batch, received_at, size) for index, batch in enumerate(batches)
        ]
        failed = [outcome for outcome in outcomes if outcome["status"] == "rejected"]
        if not self.bulk and failed:
            return Response(
                {"errors": [{"code": failed[0]["code"], "message": failed[0]["message"]}]}, status=400
            )
        if failed and len(failed) == len(outcomes):
            errors = [{"code": o["code"], "message": f"batch {o['index']}: {o['message']}"} for o in failed]
            return Response({"errors": errors, "batches": outcomes}, status=400)
        if failed or any("rejected" in outcome for outcome in outcomes):
            return Response(
                {"batches": outcomes} if self.bulk else {"rejected": outcomes[0]["rejected"]}, status=202
            )
        return Response(status=202)

    @staticmethod
    def _ingest_one(request, index: int, batch, received_at, size: int) -> dict:
        """One batch, alone: rejected as a whole (not stored) or ingested (bad events quarantined)."""
        try:
            mparticle.validate_batch(batch)
            messages = mparticle.batch_to_messages(batch)
            key = mparticle.dedupe_key(batch)
        except Rejection as rejection:
            return {"index": index, "status": "rejected", "code": rejection.code, "message": rejection.reason}
        result = ingest_batch(
            source=request.auth,
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
