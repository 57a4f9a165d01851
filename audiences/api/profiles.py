"""The Profile API's ``/audiences``: the active audiences a profile is in, with when it entered.

``GET /v1/spaces/{space}/collections/users/profiles/{id_type}:{value}/audiences?limit=&next=``
→ ``{"data": [{"key", "name", "entered_at"}], "cursor": {"url", "has_more", "next", "limit"}}``
(ordered by key; ``next`` is the last key of the page). Any identifier resolves the merged profile.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from audiences.selectors import person_audiences
from identity.api.profiles import (
    COMMON_PARAMS,
    endpoint,
    int_param,
    operation,
    page_cursor,
    page_of,
    resolve_person,
)


def audiences(request, identifier: str) -> dict:
    """The active audiences a profile is a member of, with when it entered each."""
    person = resolve_person(identifier)
    limit = int_param(request, "limit", 25, 1, 200)
    after = request.GET.get("next") or ""
    rows = [r for r in person_audiences(person_id=person.pk) if r["key"] > after]
    page, has_more = rows[:limit], len(rows) > limit
    data = [{"key": r["key"], "name": r["name"], "entered_at": r["entered_at"].isoformat()} for r in page]
    next_value = page[-1]["key"] if has_more else None
    return {
        "data": data,
        "cursor": page_cursor(request, has_more=has_more, next_value=next_value, limit=limit),
    }


AudiencesSchema = operation(
    operation_id="profile_audiences",
    summary="The audiences a profile is a member of",
    parameters=[
        *COMMON_PARAMS,
        OpenApiParameter("limit", int, description="1-200, default 25."),
        OpenApiParameter("next", str, description="Cursor from the previous page (an audience key)."),
    ],
    responses=page_of(
        "ProfileAudiences",
        "ProfileAudience",
        {
            "key": serializers.CharField(),
            "name": serializers.CharField(),
            "entered_at": serializers.DateTimeField(),
        },
    ),
)


audiences_view = endpoint(audiences, AudiencesSchema)
