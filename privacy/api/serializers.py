"""OpenDSR v3 shapes (as mParticle serves them); suppression and unsuppression are our extensions."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from privacy.models import PrivacyRequest, RequestKind

API_VERSION = "3.0"
ENCODINGS = ("raw",)


def controller_id() -> str:
    from people.selectors import organization

    return organization().name


class IdentityValueSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=255, trim_whitespace=False)
    encoding = serializers.CharField(default="raw")

    def validate_encoding(self, value: str) -> str:
        if value not in ENCODINGS:
            raise serializers.ValidationError(
                f"Unsupported encoding {value!r}: send the raw value (erasure needs it to find the data)."
            )
        return value


class RequestCreateSerializer(serializers.Serializer):
    regulation = serializers.ChoiceField(choices=PrivacyRequest.Regulation.values)
    subject_request_id = serializers.UUIDField()
    subject_request_type = serializers.ChoiceField(choices=RequestKind.values)
    submitted_time = serializers.DateTimeField()
    subject_identities = serializers.DictField(child=IdentityValueSerializer(), allow_empty=False)
    status_callback_urls = serializers.ListField(
        child=serializers.URLField(max_length=2000), required=False, max_length=10
    )
    api_version = serializers.CharField(required=False)

    def validate_subject_request_id(self, value):
        if value.version != 4:
            raise serializers.ValidationError("Must be a UUID version 4.")
        return value

    def validate_submitted_time(self, value):
        if value > timezone.now() + timezone.timedelta(days=1):
            raise serializers.ValidationError("Must not be in the future.")
        return value

    def identities(self) -> list[dict]:
        return [
            {"type": k, "value": v["value"]} for k, v in self.validated_data["subject_identities"].items()
        ]


class RequestCreatedSerializer(serializers.Serializer):
    expected_completion_time = serializers.DateTimeField()
    received_time = serializers.DateTimeField()
    subject_request_id = serializers.UUIDField()
    controller_id = serializers.CharField()


class RequestStatusSerializer(serializers.Serializer):
    api_version = serializers.CharField()
    controller_id = serializers.CharField()
    expected_completion_time = serializers.DateTimeField()
    subject_request_id = serializers.UUIDField()
    subject_request_type = serializers.CharField()
    request_status = serializers.CharField()
    received_time = serializers.DateTimeField()
    started_time = serializers.DateTimeField(allow_null=True)
    completed_time = serializers.DateTimeField(allow_null=True)
    progress_percent = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    results_url = serializers.CharField(allow_null=True)
    results_expire_time = serializers.DateTimeField(allow_null=True)
    receipt = serializers.DictField(allow_null=True)
    receipt_signature = serializers.CharField(allow_blank=True)


def status_document(request: PrivacyRequest, *, results_url: str | None) -> dict:
    from privacy.services import expected_completion_time

    def iso(value):
        return value.isoformat() if value else None

    return {
        "api_version": API_VERSION,
        "controller_id": controller_id(),
        "expected_completion_time": iso(expected_completion_time(request)),
        "subject_request_id": str(request.subject_request_id),
        "subject_request_type": request.kind,
        "request_status": request.status,
        "received_time": iso(request.received_at),
        "started_time": iso(request.started_at),
        "completed_time": iso(request.completed_at),
        "progress_percent": request.progress_percent,
        "error": request.error,
        "results_url": results_url,
        "results_expire_time": iso(request.results_expire_at),
        "receipt": request.receipt,
        "receipt_signature": request.receipt_signature,
    }


class DiscoverySerializer(serializers.Serializer):
    api_version = serializers.CharField()
    supported_identities = serializers.ListField(child=serializers.DictField())
    supported_subject_request_types = serializers.ListField(child=serializers.CharField())
    supported_regulations = serializers.ListField(child=serializers.CharField())
    processor_signature_header = serializers.CharField()
