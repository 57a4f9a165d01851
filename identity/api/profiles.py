"""The Profile API (Segment's shapes): server-side only, read-only, secret access tokens.

``GET /v1/spaces/{space}/collections/users/profiles/{id_type}:{value}/traits|external_ids|events|metadata``
A deployment has one workspace; any ``{space}`` is accepted. Errors: ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from identity import selectors
from identity.api.auth import AccessTokenAuthentication, HasAccessToken
from identity.api.ratelimit import with_retry_after
from identity.extensions import trait_classes
from identity.normalize import Rejection, parse_time

ErrorBody = inline_serializer(
    "ProfileError",
    {
        "error": inline_serializer(
            "ProfileErrorDetail", {"code": serializers.CharField(), "message": serializers.CharField()}
        )
    },
)
Cursor = inline_serializer(
    "ProfileCursor",
    {
        "url": serializers.CharField(),
        "has_more": serializers.BooleanField(),
        "next": serializers.CharField(allow_null=True),
        "limit": serializers.IntegerField(),
    },
)
ERRORS = {
    400: OpenApiResponse(ErrorBody, description="validation_error"),
    401: OpenApiResponse(ErrorBody, description="authentication_error (write keys are refused here)"),
    404: OpenApiResponse(ErrorBody, description="not_found: no profile holds this identifier"),
    429: OpenApiResponse(
        ErrorBody, description="too_many_requests: over the token's rate limit; see the Retry-After header"
    ),
}
COMMON_PARAMS = [
    OpenApiParameter(
        "space", str, OpenApiParameter.PATH, description="Workspace (any value: one per deployment)."
    ),
    OpenApiParameter(
        "identifier",
        str,
        OpenApiParameter.PATH,
        description="`<id_type>:<value>`, e.g. `user_id:u1`, `email:jane@example.com`, `phone:%2B4915...`.",
    ),
]


class ProfileError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _int(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ProfileError(400, "validation_error", f"'{name}' must be a whole number.") from exc
    if not low <= value <= high:
        raise ProfileError(400, "validation_error", f"'{name}' must be between {low} and {high}.")
    return value


def _time(request, name: str) -> datetime | None:
    """An ISO-8601 query parameter that PostgreSQL and Python can hold once converted to UTC."""
    try:
        value = parse_time(request.query_params.get(name), name)
    except Rejection as exc:
        raise ProfileError(400, "validation_error", exc.reason) from exc
    if value is not None:
        try:
            value = value.astimezone(UTC)
        except OverflowError as exc:
            raise ProfileError(
                400, "validation_error", f"'{name}' is out of range (years 1 to 9999 in UTC)."
            ) from exc
    return value


def _reject_nul(identifier: str, params) -> None:
    """NUL cannot be stored or compared in PostgreSQL text: refuse it in any part of the request."""
    if "\x00" in identifier:
        raise ProfileError(400, "validation_error", "The identifier must not contain a NUL character.")
    for key, values in params.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise ProfileError(
                400,
                "validation_error",
                f"Query parameter '{key.replace(chr(0), '')}' contains a NUL character.",
            )


def _list(request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else None


class ProfileAPIView(APIView):
    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [HasAccessToken]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    def handle_exception(self, exc):
        if isinstance(exc, ProfileError):
            return Response({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            message = (
                "An access token is required (HTTP Basic username or Bearer)."
                if isinstance(exc, exceptions.NotAuthenticated)
                else "Invalid access token."
            )
            response = Response({"error": {"code": "authentication_error", "message": message}}, status=401)
            response["WWW-Authenticate"] = 'Basic realm="profiles"'
            return response
        if isinstance(exc, exceptions.Throttled):
            return with_retry_after(
                Response({"error": {"code": "too_many_requests", "message": str(exc.detail)}}, status=429),
                exc,
            )
        if isinstance(exc, exceptions.APIException):
            return Response(
                {"error": {"code": "invalid_request_error", "message": str(exc.detail)}},
                status=exc.status_code,
            )
        return super().handle_exception(exc)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _reject_nul(kwargs.get("identifier", ""), request.query_params)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Request-Id"] = getattr(request, "_request_id", None) or str(uuid.uuid4())
        return response

    def person(self, identifier: str):
        id_type, sep, value = identifier.partition(":")
        if not sep or not id_type or not value:
            raise ProfileError(400, "validation_error", "The identifier must be '<id_type>:<value>'.")
        person = selectors.person_by_identifier(type_key=id_type, value=value)
        if person is None:
            raise ProfileError(404, "not_found", "Profile was not found.")
        return person

    def cursor(self, request, *, has_more: bool, next_value: str | None, limit: int) -> dict:
        return {"url": request.get_full_path(), "has_more": has_more, "next": next_value, "limit": limit}


class TraitsView(ProfileAPIView):
    @extend_schema(
        operation_id="profile_traits",
        summary="A profile's traits",
        tags=["profiles"],
        parameters=[
            *COMMON_PARAMS,
            OpenApiParameter("include", str, description="Comma-separated trait keys."),
            OpenApiParameter("limit", int, description="1-200, default 10."),
            OpenApiParameter("next", str, description="Cursor from the previous page."),
            OpenApiParameter("verbose", bool, description="Each trait as {value, source, updated_at}."),
            OpenApiParameter(
                "class",
                str,
                description="Only traits of these classes (comma-separated): trait (standard and custom "
                "attributes), computed_trait, audience.",
            ),
        ],
        responses={
            200: inline_serializer("ProfileTraits", {"traits": serializers.DictField(), "cursor": Cursor}),
            **ERRORS,
        },
    )
    def get(self, request, space: str, identifier: str):
        person = self.person(identifier)
        limit = _int(request, "limit", 10, 1, 200)
        verbose = request.query_params.get("verbose", "").lower() in ("1", "true", "yes")
        classes = _list(request, "class")
        unknown = sorted(set(classes or ()) - set(trait_classes()))
        if unknown:
            raise ProfileError(400, "invalid_request", f"unknown trait class: {', '.join(unknown)}")
        page = selectors.profile_traits(
            classes=classes,
            person=person,
            include=_list(request, "include"),
            limit=limit,
            after=request.query_params.get("next") or None,
            verbose=verbose,
        )
        return Response(
            {
                "traits": dict(page.items),
                "cursor": self.cursor(request, has_more=page.has_more, next_value=page.next, limit=limit),
            }
        )


class ExternalIdsView(ProfileAPIView):
    @extend_schema(
        operation_id="profile_external_ids",
        summary="A profile's identifiers",
        tags=["profiles"],
        parameters=[
            *COMMON_PARAMS,
            OpenApiParameter("include", str, description="Comma-separated identifier types."),
            OpenApiParameter("limit", int, description="1-100, default 25."),
            OpenApiParameter("next", str),
        ],
        responses={
            200: inline_serializer(
                "ProfileExternalIds",
                {
                    "data": inline_serializer(
                        "ProfileExternalId",
                        {
                            "id": serializers.CharField(),
                            "type": serializers.CharField(),
                            "source_id": serializers.CharField(allow_null=True),
                            "collection": serializers.CharField(),
                            "created_at": serializers.DateTimeField(),
                            "encoding": serializers.CharField(),
                            "first_message_id": serializers.CharField(allow_null=True),
                        },
                        many=True,
                    ),
                    "cursor": Cursor,
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request, space: str, identifier: str):
        person = self.person(identifier)
        limit = _int(request, "limit", 25, 1, 100)
        raw_next = request.query_params.get("next")
        after = None
        if raw_next:
            if not raw_next.isdigit() or int(raw_next) >= 2**63:
                raise ProfileError(400, "validation_error", "Invalid 'next' cursor.")
            after = int(raw_next)
        page = selectors.profile_external_ids(
            person=person, include=_list(request, "include"), limit=limit, after=after
        )
        return Response(
            {
                "data": page.items,
                "cursor": self.cursor(request, has_more=page.has_more, next_value=page.next, limit=limit),
            }
        )


class EventsView(ProfileAPIView):
    @extend_schema(
        operation_id="profile_events",
        summary="A profile's events (timestamp = corrected event time)",
        tags=["profiles"],
        parameters=[
            *COMMON_PARAMS,
            OpenApiParameter("start", OpenApiTypes.DATETIME, description="ISO-8601, inclusive."),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="ISO-8601, exclusive."),
            OpenApiParameter("include", str, description="Comma-separated event names."),
            OpenApiParameter("exclude", str, description="Comma-separated event names."),
            OpenApiParameter("limit", int, description="1-100, default 10."),
            OpenApiParameter("sort", str, enum=["asc", "desc"], description="Default desc."),
            OpenApiParameter("next", str),
        ],
        responses={
            200: inline_serializer(
                "ProfileEvents",
                {
                    "data": inline_serializer(
                        "ProfileEvent",
                        {
                            "type": serializers.CharField(),
                            "event": serializers.CharField(),
                            "properties": serializers.DictField(),
                            "context": serializers.DictField(),
                            "timestamp": serializers.DateTimeField(),
                            "original_timestamp": serializers.DateTimeField(allow_null=True),
                            "received_at": serializers.DateTimeField(),
                            "message_id": serializers.CharField(),
                            "source_id": serializers.CharField(allow_null=True),
                        },
                        many=True,
                    ),
                    "cursor": Cursor,
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request, space: str, identifier: str):
        person = self.person(identifier)
        limit = _int(request, "limit", 10, 1, 100)
        sort = request.query_params.get("sort", "desc").lower()
        if sort not in ("asc", "desc"):
            raise ProfileError(400, "validation_error", "'sort' must be asc or desc.")
        start, end = _time(request, "start"), _time(request, "end")
        cursor = None
        if request.query_params.get("next"):
            cursor = selectors.parse_event_cursor(request.query_params["next"])
            if cursor is None:
                raise ProfileError(400, "validation_error", "Invalid 'next' cursor.")
        page = selectors.profile_events(
            person=person,
            start=start,
            end=end,
            include=_list(request, "include"),
            exclude=_list(request, "exclude"),
            limit=limit,
            sort=sort,
            cursor=cursor,
        )
        return Response(
            {
                "data": page.items,
                "cursor": self.cursor(request, has_more=page.has_more, next_value=page.next, limit=limit),
            }
        )


class MetadataView(ProfileAPIView):
    @extend_schema(
        operation_id="profile_metadata",
        summary="A profile's metadata (created, updated, first/last seen, merged ids)",
        tags=["profiles"],
        parameters=COMMON_PARAMS,
        responses={
            200: inline_serializer("ProfileMetadata", {"metadata": serializers.DictField()}),
            **ERRORS,
        },
    )
    def get(self, request, space: str, identifier: str):
        person = self.person(identifier)
        return Response({"metadata": selectors.profile_metadata(person=person)})
