"""Template filters of the admin pages."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def as_json(value, indent: int = 0) -> str:
    """A stored value as JSON (``null``, double quotes), as a marketer reads it in a payload, not as
    Python prints it. ``indent`` > 0 pretty-prints."""
    return json.dumps(value, indent=indent or None, ensure_ascii=False, default=str, sort_keys=False)


@register.filter
def distinct_crumbs(parts) -> list:
    """Breadcrumb parts without one that repeats the next one's title (an app named like its only
    model: "Computed attributes › Computed attributes")."""
    parts = list(parts or [])
    titles = [str(part.get("title", "")).strip().lower() for part in parts]
    return [part for i, part in enumerate(parts) if i + 1 >= len(parts) or titles[i] != titles[i + 1]]


@register.filter
def attr_value(value) -> str:
    """An attribute value as a marketer reads it: yes/no, JSON for lists, "empty" for none."""
    if value is None or value == "":
        return "empty"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, (list, dict)):
        return as_json(value)
    return str(value)
