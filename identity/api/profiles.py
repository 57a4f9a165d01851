"""The Profile API (Segment's shapes): server-side only, read-only, secret access tokens.

``GET /v1/spaces/{space}/collections/users/profiles/{id_type}:{value}/traits|external_ids|events|metadata``
A deployment has one workspace; any ``{space}`` is accepted. Errors: ``{"error": {"code", "message"}}``.

Requests are served by plain Django views (``endpoint``): no DRF request wrapping, content negotiation,
authentication/permission/throttle classes or renderer per request, which cost about 4 ms of CPU per
request (docs/performance.md). The DRF ``*Schema`` classes below only declare the OpenAPI operations:
each URL's view function carries its declaration as ``view.cls`` (what drf-spectacular reads), and is
never dispatched through DRF. Authentication, rate limits and error shapes are the same as before
(``identity.api.auth.access_token_for``, ``identity.api.ratelimit``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from identity import selectors
from identity.api.auth import AccessTokenAuthentication, HasAccessToken, access_token_for
from identity.api.ratelimit import RateLimited
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


def int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
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
        value = parse_time(request.GET.get(name), name)
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
    raw = request.GET.get(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else None


MISSING_TOKEN = "An access token is required (HTTP Basic username or Bearer)."
ALLOWED = ("GET", "HEAD")


def _render(body: dict, status: int) -> HttpResponse:
    """JSON as DRF's JSONRenderer wrote it (compact, UTF-8, its encoder for times and decimals)."""
    content = json.dumps(body, cls=JSONEncoder, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return HttpResponse(content.encode(), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> HttpResponse:
    return _render({"error": {"code": code, "message": message}}, status)


def _authenticate(request) -> None:
    try:
        token = access_token_for(request)
    except exceptions.AuthenticationFailed as exc:
        raise ProfileError(401, "authentication_error", "Invalid access token.") from exc
    if token is None:
        raise ProfileError(401, "authentication_error", MISSING_TOKEN)


def endpoint(handler: Callable[..., dict], schema: type[APIView]) -> Callable:
    """A plain Django view for ``handler(request, identifier) -> body``; ``schema`` declares its
    OpenAPI operation (drf-spectacular reads ``view.cls``)."""

    def view(request, space: str, identifier: str) -> HttpResponse:
        try:
            _authenticate(request)
            if request.method not in ALLOWED:
                raise ProfileError(405, "invalid_request_error", f'Method "{request.method}" not allowed.')
            _reject_nul(identifier, request.GET)
            response = _render(handler(request, identifier), 200)
        except ProfileError as exc:
            response = _error(exc.status, exc.code, exc.message)
            if exc.status == 401:
                response["WWW-Authenticate"] = 'Basic realm="profiles"'
            elif exc.status == 405:
                response["Allow"] = ", ".join(ALLOWED)
        except RateLimited as exc:
            response = _error(429, "too_many_requests", str(exc.detail))
            response["Retry-After"] = str(exc.wait)
        response["Request-Id"] = getattr(request, "_request_id", None) or str(uuid.uuid4())
        return response

    view.cls = schema  # drf-spectacular: the operation's declaration
    view.initkwargs = {}
    view.__name__ = view.__qualname__ = f"{handler.__name__}_view"
    view.__doc__ = handler.__doc__
    return csrf_exempt(view)


def parse_identifier(identifier: str) -> tuple[str, str]:
    id_type, sep, value = identifier.partition(":")
    if not sep or not id_type or not value:
        raise ProfileError(400, "validation_error", "The identifier must be '<id_type>:<value>'.")
    return id_type, value


def found(person):
    if person is None:
        raise ProfileError(404, "not_found", "Profile was not found.")
    return person


def resolve_person(identifier: str):
    id_type, value = parse_identifier(identifier)
    return found(selectors.person_by_identifier(type_key=id_type, value=value))


def page_cursor(request, *, has_more: bool, next_value: str | None, limit: int) -> dict:
    return {"url": request.get_full_path(), "has_more": has_more, "next": next_value, "limit": limit}


def traits(request, identifier: str) -> dict:
    """A profile's traits: standard, custom, then registered ones (computed traits, audiences)."""
    id_type, value = parse_identifier(identifier)
    classes = _list(request, "class")
    # the profile and its registered traits in one statement (the sources of ``classes`` only)
    person = found(selectors.profile_for_traits(type_key=id_type, value=value, classes=classes))
    params = request.GET
    limit = int_param(request, "limit", 10, 1, 200)
    verbose = params.get("verbose", "").lower() in ("1", "true", "yes")
    unknown = sorted(set(classes or ()) - set(trait_classes()))
    if unknown:
        raise ProfileError(400, "invalid_request", f"unknown trait class: {', '.join(unknown)}")
    page = selectors.profile_traits(
        classes=classes,
        person=person,
        include=_list(request, "include"),
        limit=limit,
        after=params.get("next") or None,
        verbose=verbose,
    )
    return {
        "traits": dict(page.items),
        "cursor": page_cursor(request, has_more=page.has_more, next_value=page.next, limit=limit),
    }


def external_ids(request, identifier: str) -> dict:
    """A profile's identifiers."""
    person = resolve_person(identifier)
    limit = int_param(request, "limit", 25, 1, 100)
    raw_next = request.GET.get("next")
    after = None
    if raw_next:
        if not raw_next.isdigit() or int(raw_next) >= 2**63:
            raise ProfileError(400, "validation_error", "Invalid 'next' cursor.")
        after = int(raw_next)
    page = selectors.profile_external_ids(
        person=person, include=_list(request, "include"), limit=limit, after=after
    )
    return {
        "data": page.items,
        "cursor": page_cursor(request, has_more=page.has_more, next_value=page.next, limit=limit),
    }


def events(request, identifier: str) -> dict:
    """A profile's events, newest first by default."""
    person = resolve_person(identifier)
    params = request.GET
    limit = int_param(request, "limit", 10, 1, 100)
    sort = params.get("sort", "desc").lower()
    if sort not in ("asc", "desc"):
        raise ProfileError(400, "validation_error", "'sort' must be asc or desc.")
    start, end = _time(request, "start"), _time(request, "end")
    cursor = None
    if params.get("next"):
        cursor = selectors.parse_event_cursor(params["next"])
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
    return {
        "data": page.items,
        "cursor": page_cursor(request, has_more=page.has_more, next_value=page.next, limit=limit),
    }


def metadata(request, identifier: str) -> dict:
    """A profile's metadata."""
    return {"metadata": selectors.profile_metadata(person=resolve_person(identifier))}


def page_of(name: str, item: str, fields: dict) -> dict:
    """The responses of a paged list: 200 with ``data`` (``item`` objects of ``fields``) and its
    ``cursor``, and the errors."""
    return {
        200: inline_serializer(name, {"data": inline_serializer(item, fields, many=True), "cursor": Cursor}),
        **ERRORS,
    }


# Schema-only: each subclass declares one Profile API operation for drf-spectacular. Never dispatched
# (the URLs route to ``endpoint`` views); ``get`` exists so the schema generator sees a GET. (A comment,
# not a docstring: drf-spectacular would publish a docstring as the operation's description.)
class ProfileSchemaView(APIView):
    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [HasAccessToken]
    throttle_classes: list = []

    def get(self, request, space: str, identifier: str):  # pragma: no cover - schema declaration
        raise NotImplementedError("served by identity.api.profiles.endpoint")


def operation(*, operation_id: str, summary: str, parameters: list, responses: dict) -> type[APIView]:
    """The schema-only view (a ``ProfileSchemaView``) of one Profile API operation: a GET tagged
    "profiles", for ``endpoint``."""

    class Operation(ProfileSchemaView):
        @extend_schema(
            operation_id=operation_id,
            summary=summary,
            tags=["profiles"],
            parameters=parameters,
            responses=responses,
        )
        def get(self, request, space: str, identifier: str):  # pragma: no cover - schema declaration
            raise NotImplementedError("served by identity.api.profiles.endpoint")

    return Operation


TraitsSchema = operation(
    operation_id="profile_traits",
    summary="A profile's traits",
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


ExternalIdsSchema = operation(
    operation_id="profile_external_ids",
    summary="A profile's identifiers",
    parameters=[
        *COMMON_PARAMS,
        OpenApiParameter("include", str, description="Comma-separated identifier types."),
        OpenApiParameter("limit", int, description="1-100, default 25."),
        OpenApiParameter("next", str),
    ],
    responses=page_of(
        "ProfileExternalIds",
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
    ),
)


EventsSchema = operation(
    operation_id="profile_events",
    summary="A profile's events (timestamp = corrected event time)",
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
    responses=page_of(
        "ProfileEvents",
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
    ),
)


MetadataSchema = operation(
    operation_id="profile_metadata",
    summary="A profile's metadata (created, updated, first/last seen, merged ids)",
    parameters=COMMON_PARAMS,
    responses={
        200: inline_serializer("ProfileMetadata", {"metadata": serializers.DictField()}),
        **ERRORS,
    },
)


traits_view = endpoint(traits, TraitsSchema)
external_ids_view = endpoint(external_ids, ExternalIdsSchema)
events_view = endpoint(events, EventsSchema)
metadata_view = endpoint(metadata, MetadataSchema)
