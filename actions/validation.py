"""Checks of action definitions, shared by the services, the admin forms and the API serializers.

Each raises ``django.core.exceptions.ValidationError`` whose message names the path of the problem.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from actions import templating
from actions.models import ActionProperty, ReactionKind
from actions.targeting import parse_context_conditions
from people import conditions
from people.conditions.attributes import resolve
from people.models import Channel

MAX_TAGS = 50


def clean_keys(value: Any, *, field: str, what: str, known: set[str] | None = None) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError({field: f"expected a list of {what}"})
    if len(value) > MAX_TAGS:
        raise ValidationError({field: f"at most {MAX_TAGS} {what}"})
    cleaned = list(dict.fromkeys(v.strip() for v in value))
    if known is not None:
        unknown = [v for v in cleaned if v not in known]
        if unknown:
            raise ValidationError({field: f"unknown {what}: {', '.join(unknown)}"})
    return cleaned


def channel_keys() -> set[str]:
    return set(Channel.objects.values_list("key", flat=True))


def clean_channel(channel: str) -> None:
    """A row's channel: empty (every channel) or a known channel key."""
    if channel:
        clean_keys([channel], field="channel", what="channels", known=channel_keys())


def clean_trait_conditions(value: Any) -> Any:
    if value in (None, "", {}):
        return None
    try:
        conditions.check(value)
    except conditions.ConditionError as exc:
        issues = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in exc.issues)
        raise ValidationError({"trait_conditions": issues}) from exc
    return value


def clean_context_conditions(value: Any) -> list:
    if value in (None, ""):
        return []
    try:
        parse_context_conditions(value)
    except ValueError as exc:
        raise ValidationError({"context_conditions": str(exc)}) from exc
    return value


def clean_audience_ids(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError({"audience_ids": "expected a list of audience ids"})
    return list(dict.fromkeys(value))


def clean_property(*, kind: str, value: str, attribute: str, fallback: str, value_type: str) -> None:
    if kind == ActionProperty.Kind.TEMPLATE:
        try:
            nodes = templating.parse(value)
        except templating.TemplateError as exc:
            raise ValidationError({"value": f"template {exc}"}) from exc
        outside = {n.path[0] for n in nodes if isinstance(n, templating.Placeholder)}
        outside |= {n.path[0] for n in nodes if isinstance(n, templating.Each)}
        unknown = sorted(k for k in outside if not k.startswith("@") and resolve(k) is None)
        if unknown:
            raise ValidationError({"value": f"template: unknown attribute(s) {', '.join(unknown)}"})
    elif kind == ActionProperty.Kind.TRAIT:
        if not attribute:
            raise ValidationError({"attribute": "choose the attribute whose value is returned"})
        if resolve(attribute) is None:
            raise ValidationError({"attribute": f"unknown attribute {attribute!r}"})
        if fallback:
            from actions.targeting import coerce

            try:
                coerce(fallback, value_type)
            except (ValueError, TypeError) as exc:
                raise ValidationError({"fallback": f"{fallback!r} is not a {value_type}"}) from exc


def clean_reaction(value: Any, field: str = "reaction") -> str:
    if value not in ReactionKind.values:
        raise ValidationError({field: f"expected one of {', '.join(ReactionKind.values)}"})
    return value
