"""Hooks higher apps fill (audiences, actions): who else uses a computed attribute.

A finder takes the attribute and returns a description of each use (``"audience 'vip' (active)"``);
``computed.selectors.where_used`` lists them and deletion is refused while any exists.
"""

from __future__ import annotations

from collections.abc import Callable

UsageFinder = Callable[[object], list[str]]

usage_finders: list[UsageFinder] = []


def register_usage_finder(finder: UsageFinder) -> None:
    if finder not in usage_finders:
        usage_finders.append(finder)
