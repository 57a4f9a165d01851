"""The client actions API (write key; the channel comes from the source).

``GET|POST /v1/actions`` → ``[{id, type, tags, properties}]`` (each logged as delivered);
``POST /v1/actions/act`` records shown/hidden/declined/accepted. Errors are ``{"code", "message"}``
like the tracking endpoints: 400 bad input, 401 key, 403 refused, 404 unknown action.

Requests are served by plain Django views (``endpoint``), as the Profile API is: no DRF request
wrapping, content negotiation, permission and throttle classes or renderer per request. The DRF
``*Schema`` classes below only declare the OpenAPI operations (each URL's view carries its declaration
as ``view.cls``, which drf-spectacular reads) and are never dispatched. Authentication, rate limits,
error shapes, CORS and the JSON written are those of the tracking endpoints, as before.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.utils.encoders import JSONEncoder

from actions import rawmodels, services, targeting
from actions.api import schema  # noqa: F401 - registers the OpenAPI security scheme
from identity.api import ratelimit
from identity.api.auth import WriteKeyAuthentication, credentials, source_for_write_key
from identity.api.body import BodyError, read_body
from identity.api.ratelimit import with_retry_after
from identity.api.tracking import TrackingAPIView, add_cors
from people.models import Channel, Source

logger = logging.getLogger(__name__)
MAX_ID = 255
MAX_TAGS = 50

ErrorSerializer = inline_serializer(
    "ActionsError", {"code": serializers.CharField(), "message": serializers.CharField()}
)
ActionOut = inline_serializer(
    "ClientAction",
    {
        "id": serializers.IntegerField(),
        "type": serializers.CharField(),
        "tags": serializers.ListField(child=serializers.CharField()),
        "properties": serializers.DictField(),
    },
    many=True,
)
ActOut = inline_serializer(
    "ClientActResult",
    {
        "success": serializers.BooleanField(),
        "reaction": serializers.CharField(),
        "hook": serializers.DictField(required=False),
    },
)


class WriteKey:
    """The request's write key (HTTP Basic username, ``writeKey`` in a POST body, ``?writeKey=``; a
    GET has no body to read), counted against the key's rate limit on POST as tracking does. Its
    source is read when first needed: alone (``source``), or with the person in one statement
    (``_lookup``); an unknown or disabled key counts against the client's failed-authentication
    limit."""

    def __init__(self, request):
        self.request = request
        self.posted = request.method != "GET"
        found = credentials(request)
        key = found[1] if found else ""
        if not key and self.posted:
            body, _ = read_body(request)
            if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
                key = body["writeKey"]
        key = key or request.GET.get("writeKey", "")
        if not key:
            raise exceptions.NotAuthenticated()
        if self.posted:
            ratelimit.check("write_key", key)
        self.key = key
        self.hash = Source.hash_write_key(key)
        self._source: Source | None = None

    @property
    def checked(self) -> bool:
        return self._source is not None

    def source(self) -> Source:
        """The enabled source of the key (one statement, ``enabled_source``, the first time)."""
        if self._source is None:
            self.found(enabled_source(self.key))
        return self._source

    def found(self, source: Source | None) -> Source:
        """The source read (None: the key is unknown or disabled, refused)."""
        if source is None:
            refused = exceptions.AuthenticationFailed("Unknown or disabled write key.")
            raise ratelimit.refuse_failed(self.request, refused) if self.posted else refused
        self._source = source
        return source


class ActionsWriteKeyAuthentication(WriteKeyAuthentication):
    """``WriteKey`` as a DRF authentication class (the OpenAPI declarations name it)."""

    def authenticate(self, request):
        try:
            key = WriteKey(request._request)
        except exceptions.NotAuthenticated:
            return None
        return (self.anonymous_user(), key.source())

    @staticmethod
    def anonymous_user():
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser()


@functools.cache
def _source_sql() -> str:
    q = connection.ops.quote_name
    return (
        f"SELECT {rawmodels.columns(Source, 's')}, {rawmodels.columns(Channel, 'c')} "
        f"FROM {q(Source._meta.db_table)} s JOIN {q(Channel._meta.db_table)} c ON c.id = s.channel_id "
        "WHERE s.write_key_hash = %s AND s.enabled"
    )


@functools.cache
def _source_with_person_sql(person_sql: str) -> str:
    """The source of the key and, beside it, the row of ``person_sql`` (NULLs when no one holds the
    id): one statement for the two reads every request starts with."""
    source = _source_sql()
    select, rest = source.split(" FROM ", 1)
    where = rest.index(" WHERE ")
    return f"{select}, k.* FROM {rest[:where]} LEFT JOIN LATERAL ({person_sql}) k ON true{rest[where:]}"


def _source_from(row: tuple) -> Source:
    source = rawmodels.instance(Source, row)
    channel = rawmodels.instance(Channel, row, rawmodels.width(Source))
    Source.channel.field.set_cached_value(source, channel)
    return source


def enabled_source(key: str) -> Source | None:
    """``identity.api.auth.source_for_write_key`` (the enabled source of a write key, with its
    channel) in one statement built once: it runs on every request, not cached, so a disabled key
    stops at once."""
    if connection.vendor != "postgresql":
        return source_for_write_key(key)
    found = rawmodels.rows(_source_sql(), [Source.hash_write_key(key)])
    return _source_from(found[0]) if found else None


def _text(value: Any, field: str, *, required: bool = False, limit: int = MAX_ID) -> str | None:
    if value is None or value == "":
        if required:
            raise BodyError("invalid_request", f"'{field}' is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BodyError("invalid_request", f"'{field}' must be a string.")
    text = str(value).strip()
    if not text or len(text) > limit or "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise BodyError(
            "invalid_request", f"'{field}' must be a non-empty string of at most {limit} characters."
        )
    return text


MAX_DEPTH = 20


def _object(value: Any, field: str) -> dict:
    """A JSON object PostgreSQL can store: no NUL, no lone surrogates, finite numbers, bounded nesting."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BodyError("invalid_request", f"'{field}' must be an object.")
    problem = _json_problem(value, 0)
    if problem:
        raise BodyError("invalid_request", f"'{field}' {problem}.")
    return value


def _json_problem(value: Any, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        if "\x00" in value:
            return "holds a NUL character"
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            return "holds a lone surrogate (not valid Unicode)"
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "holds a number that is not finite"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _json_problem(key, depth + 1) or _json_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem:
                return problem
    return None


def _tags(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = [t for t in value.split(",") if t.strip()]
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise BodyError("invalid_request", f"'tags' must be a list of at most {MAX_TAGS} strings.")
    return tuple(_text(t, "tags[]", required=True, limit=64) for t in value)


# ------------------------------------------------------------------ the plain views


def _render(body: Any, status: int = 200) -> HttpResponse:
    """JSON as DRF's JSONRenderer wrote it (compact, UTF-8, its encoder for times and decimals)."""
    content = json.dumps(body, cls=JSONEncoder, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return HttpResponse(content.encode(), status=status, content_type="application/json")


def _failure(exc: Exception) -> HttpResponse:
    """The answer to a refused request, as the tracking endpoints give it."""
    if isinstance(exc, services.ActionError | BodyError):
        return _render({"code": exc.code, "message": exc.message}, exc.status)
    if isinstance(exc, RecursionError):
        return _render({"code": "invalid_json", "message": "The body is nested too deeply."}, 400)
    if isinstance(exc, DatabaseError):
        logger.exception("actions API database error")
        return _render(
            {"code": "unavailable", "message": "The request could not be processed; try again."}, 503
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        if isinstance(exc, exceptions.NotAuthenticated):
            body = {"code": "unauthorized", "message": MISSING_KEY}
        else:
            body = {"code": "invalid_write_key", "message": str(exc.detail)}
        response = _render(body, 401)
        response["WWW-Authenticate"] = 'Basic realm="tracking"'
        return response
    assert isinstance(exc, exceptions.APIException)  # noqa: S101 - the only other kind caught
    return with_retry_after(
        _render({"code": exc.default_code, "message": str(exc.detail)}, exc.status_code), exc
    )


MISSING_KEY = "A write key is required (HTTP Basic username or writeKey in the body)."
CORS_METHODS = "GET, POST, OPTIONS"


ERRORS = (services.ActionError, BodyError, RecursionError, DatabaseError, exceptions.APIException)


def _keyed(key: WriteKey | None, exc: Exception) -> Exception:
    """A refusal of a request whose key was not read yet: an unknown or disabled key is answered
    first (401), as if the key had been read before anything else."""
    if key is None or key.checked or isinstance(exc, exceptions.APIException | DatabaseError):
        return exc
    try:
        key.source()
    except ERRORS as refused:
        return refused
    return exc


def endpoint(
    handler: Callable[[Any, WriteKey], tuple[Any, int]], declaration: type, methods: tuple[str, ...]
):
    """A plain Django view for ``handler(request, key) -> (body, status)``; ``declaration`` declares
    its OpenAPI operations (drf-spectacular reads ``view.cls``)."""
    allowed = ", ".join([*methods, "OPTIONS"])

    def view(request) -> HttpResponse:
        if request.method == "OPTIONS":
            response = add_cors(request, HttpResponse(status=200))
        else:
            key = None
            try:
                key = WriteKey(request)
                if request.method not in methods:
                    key.source()
                    raise exceptions.MethodNotAllowed(request.method)
                response = _render(*handler(request, key))
            except ERRORS as exc:
                response = _failure(_keyed(key, exc))
            response["Allow"] = allowed
            add_cors(request, response)
        if "Access-Control-Allow-Methods" in response:
            response["Access-Control-Allow-Methods"] = CORS_METHODS
        return response

    view = functools.wraps(handler)(view)
    view.cls, view.initkwargs = declaration, {}  # drf-spectacular reads the operation's declaration
    return csrf_exempt(view)


def _payload(request) -> dict:
    if request.method == "GET":
        query = request.GET
        context = query.get("context")
        if context:
            try:
                context = json.loads(context)
            except ValueError as exc:
                raise BodyError("invalid_request", "'context' must be a JSON object.") from exc
        tags = query.getlist("tags")
        return {
            "userId": query.get("userId"),
            "anonymousId": query.get("anonymousId"),
            "type": query.get("type"),
            "tags": tags[0] if len(tags) == 1 else tags,
            "context": context or None,
        }
    body, _ = read_body(request)
    if not isinstance(body, dict):
        raise BodyError("invalid_request", "The body must be a JSON object.")
    return body


def _ids(body: dict) -> tuple[str | None, str | None]:
    user_id = _text(body.get("userId"), "userId")
    anonymous_id = _text(body.get("anonymousId"), "anonymousId")
    if not (user_id or anonymous_id):
        raise BodyError("invalid_request", "Give a userId or an anonymousId.")
    return user_id, anonymous_id


@dataclass
class Lookup:
    """The source of the key, and the person of the client's id when one statement read both."""

    source: Source
    ids: dict[str, str]
    known: services.Resolved | None  # None: the general path resolves the person
    looked_up: bool


def _lookup(key: WriteKey, body: dict) -> Lookup:
    """The key's source and the person of a known id in one statement (PostgreSQL, one id); else
    the source alone."""
    user_id, anonymous_id = _ids(body)
    ids = {k: v for k, v in (("user_id", user_id), ("anonymous_id", anonymous_id)) if v}
    query = services.known_person_query(ids)
    if query is None:
        return Lookup(key.source(), ids, None, False)
    person_sql, params = query
    rows = rawmodels.rows(_source_with_person_sql(person_sql), [*params, key.hash])
    source = key.found(_source_from(rows[0]) if rows else None)
    width = rawmodels.width(Source) + rawmodels.width(Channel)
    return Lookup(source, ids, services.known_person(ids, rows[0][width:]), True)


def _resolve(found: Lookup) -> services.Resolved:
    if found.known is not None:
        return found.known
    return services.person_resolve(
        source=found.source,
        user_id=found.ids.get("user_id"),
        anonymous_id=found.ids.get("anonymous_id"),
        looked_up=found.looked_up,
    )


def actions(request, key: WriteKey) -> tuple[list[dict], int]:
    """The actions a person gets (each logged as delivered)."""
    body = _payload(request)
    type_ = _text(body.get("type"), "type", limit=64)
    tags = _tags(body.get("tags"))
    context = _object(body.get("context"), "context")
    found = _lookup(key, body)
    resolved = _resolve(found)
    if resolved.suppressed or resolved.person is None:
        return [], 200
    source = found.source
    delivered = services.actions_for(
        person=resolved.person,
        channel=source.channel.key,
        type=type_,
        tags=tags,
        context=context,
        source=source,
        identifiers=resolved.identifiers,
        audience_ids=resolved.audience_ids,
    )
    return delivered, 200


def act(request, key: WriteKey) -> tuple[dict, int]:
    """Record a person's reaction to an action."""
    body = _payload(request)
    action_id = body.get("actionId")
    if isinstance(action_id, str) and action_id.isdigit():
        action_id = int(action_id)
    if isinstance(action_id, bool) or not isinstance(action_id, int) or not 0 < action_id < 2**63:
        raise BodyError("invalid_request", "'actionId' must be an action's id (a positive integer).")
    event = _text(body.get("event"), "event", required=True, limit=16)
    context = _object(body.get("context"), "context")
    properties = _object(body.get("properties"), "properties")
    if event not in ("show", "hide", "decline", "accept"):
        raise BodyError("invalid_request", "'event' must be one of show, hide, decline, accept.")
    found = _lookup(key, body)
    if targeting.compiled_action(action_id) is None:
        raise services.ActionError(404, "action_not_found", f"There is no action {action_id}.")
    resolved = _resolve(found)
    if resolved.suppressed:
        raise services.ActionError(403, "suppressed", "This person is suppressed; nothing was recorded.")
    if resolved.person is None:
        raise services.ActionError(
            403, "unknown_person", "The person is unknown and this source may not create people."
        )
    result = services.act(
        source=found.source,
        person=resolved.person,
        action_id=action_id,
        event=event,
        identifiers=resolved.identifiers,
        context=context,
        properties=properties,
        audience_ids=resolved.audience_ids,
    )
    return result.body, result.status


# ------------------------------------------------------------------ OpenAPI declarations

COMMON_PARAMS = [
    OpenApiParameter("userId", str, description="The person's user id (or give anonymousId)."),
    OpenApiParameter("anonymousId", str),
    OpenApiParameter("type", str, description="Only actions of this camelCase type."),
    OpenApiParameter("tags", str, description="Comma-separated; every tag must be on the action."),
    OpenApiParameter("context", str, description="The request context as a JSON object."),
]


TAGS = ["actions (client)"]
POSTED = {"tags": TAGS, "request": {"application/json": OpenApiTypes.OBJECT}}


# Schema-only: each class declares the operations of one URL for drf-spectacular. Never dispatched (the
# URLs route to ``endpoint`` views). (A comment, not a docstring: drf-spectacular would publish it.)
class ClientSchemaView(TrackingAPIView):
    authentication_classes = [ActionsWriteKeyAuthentication]


class ActionsSchema(ClientSchemaView):
    @extend_schema(
        operation_id="client_actions_list",
        summary="Actions for a person (each logged as delivered)",
        tags=TAGS,
        parameters=COMMON_PARAMS,
        responses={200: ActionOut, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request):  # pragma: no cover - schema declaration
        raise NotImplementedError("served by actions.api.client.endpoint")

    @extend_schema(
        operation_id="client_actions_query",
        summary="Actions for a person (POST form: {userId|anonymousId, type, tags, context})",
        **POSTED,
        responses={200: ActionOut, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def post(self, request):  # pragma: no cover
        raise NotImplementedError


class ActSchema(ClientSchemaView):
    @extend_schema(
        operation_id="client_actions_act",
        summary="Record a reaction (show, hide, decline or accept)",
        **POSTED,
        responses={
            200: ActOut,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Suppressed person, or an accept not allowed."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown action."),
        },
    )
    def post(self, request):  # pragma: no cover
        raise NotImplementedError


actions_view = endpoint(actions, ActionsSchema, ("GET", "POST"))
act_view = endpoint(act, ActSchema, ("POST",))
