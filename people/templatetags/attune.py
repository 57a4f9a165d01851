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
