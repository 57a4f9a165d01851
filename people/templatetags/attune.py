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
