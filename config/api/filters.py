"""The management API's filter backend: django-filter, plus the checks that keep every filter of
every app from reaching the database with a value it cannot hold.

A query parameter or URL part with a NUL character, a date-time outside years 1 to 9999 once
converted to UTC, or a number that is not finite or does not fit a 64-bit integer is answered 400
with the parameter's name and the reason, instead of failing inside the database driver. Date-times
reach the database in UTC (PostgreSQL refuses offsets beyond 15:59, which ISO-8601 allows).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

BIGINT = 2**63


def unusable_text(request, view) -> dict[str, list[str]]:
    """Query parameters and URL parts holding NUL (PostgreSQL text cannot store or compare it)."""
    errors: dict[str, list[str]] = {}
    for key, values in request.query_params.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            errors[key.replace("\x00", "")] = ["Must not contain a NUL character."]
    for key, value in (getattr(view, "kwargs", None) or {}).items():
        if isinstance(value, str) and "\x00" in value:
            errors[key] = ["Must not contain a NUL character."]
    return errors


def out_of_range(value) -> str | None:
    """Why a cleaned filter value cannot be queried, or None when it can."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value.astimezone(UTC)
            except OverflowError:
                return "Out of range: years 1 to 9999 once converted to UTC."
        return None
    if isinstance(value, date):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, (float, Decimal)) and not (
            value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        ):
            return "Must be a finite number."
        if not -BIGINT <= value < BIGINT:
            return f"Out of range: must lie between {-BIGINT} and {BIGINT - 1}."
        return None
    if isinstance(value, (list, tuple)):
        return next((reason for item in value if (reason := out_of_range(item))), None)
    if isinstance(value, slice):  # range filters
        return out_of_range(value.start) or out_of_range(value.stop)
    return None


class CheckedFilterBackend(DjangoFilterBackend):
    """``DjangoFilterBackend`` that answers 400 (never 500) for values the database cannot hold."""

    def filter_queryset(self, request, queryset, view):
        errors = unusable_text(request, view)
        if errors:
            raise ValidationError(errors)
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        cleaned = filterset.form.cleaned_data
        errors = {name: [reason] for name, value in cleaned.items() if (reason := out_of_range(value))}
        if errors:
            raise ValidationError(errors)
        for name, value in cleaned.items():
            if isinstance(value, datetime) and value.tzinfo is not None:
                # PostgreSQL refuses offsets beyond 15:59 ("+23:00"): hand it UTC.
                cleaned[name] = value.astimezone(UTC)
        return filterset.qs
